"""A real-browser test (`make test-lab`): JupyterLab from .venv serves the project, Debian's
chromium driven by Playwright opens notebook 00, runs all its cells with the Rust kernel, and
the rendered page is checked: every code cell ran, no cell has an error output, and the digit
figure is an image of non-zero size. A screenshot is kept in target/test-lab/.

Then "Run All" on a small notebook written to target/test-lab/ whose third cell fails a check
(`check(false, hint)?`): that cell must show the error `lstm_support::Error: check failed: ...`
and the cell after it must not run (the kernel aborts the cells queued after an error).

Last, handout 01 as a student gets it (notebooks/handouts/): "Run All" must stop at its first
exercise, whose cell shows the exercise's own task as its error, and run no cell after it.

The notebook runs in QUICK mode with its own runs directory, and JupyterLab runs with its own
settings (autosave off) and workspace directories, so the committed notebook is not touched.
"""
import json
import argparse
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nbtools import NOTEBOOKS, ROOT, quick_env  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {server.returncode} before serving")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout} s")


# The notebook "Run All" must stop in: its third cell fails a check.
STOPS_NOTEBOOK = "run-all-stops.ipynb"
STOPS_CELLS = [
    ':dep lstm_support = { path = "../../lstm_support" }',
    "let kept = 42;",
    'use lstm_support::exercise::check;\ncheck(kept == 0, "kept is 42, not 0")?;',
    'println!("after the failed check");',
]


def stops_notebook() -> dict:
    cells = [{"cell_type": "code", "id": f"stops-{i}", "execution_count": None, "metadata": {},
              "outputs": [], "source": source} for i, source in enumerate(STOPS_CELLS)]
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Rust (lstm_support)",
            "language": "rust", "name": "rust-lstm"}}, "nbformat": 4, "nbformat_minor": 5}


# The handout "Run All" is tried on, and the task its first exercise's stub reports.
HANDOUT = "handouts/01_lstm_assignment.ipynb"
HANDOUT_TASK = "split the training images 80/20"


def first_exercise(path: Path) -> int:
    """The index, among the code cells, of the handout's first exercise (its stub's cell)."""
    code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    return next(i for i, c in enumerate(code) if "exercise::unfinished(task)" in "".join(c["source"]))


def open_and_run_all(page, url: str, title: str) -> None:
    page.goto(url)
    page.wait_for_function(
        "(title) => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.title.label.startsWith(title)"
        " && window.jupyterapp.shell.currentWidget.sessionContext.isReady",
        arg=title,
        timeout=600_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def wait_for_error(page, cell: int, timeout: float):
    """The notebook's state once code cell `cell` shows an error and the kernel is idle, or at
    the deadline; then a few seconds more, time enough for a later cell to run, were it to."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.evaluate(NOTEBOOK_STATE)
        if state and len(state["cells"]) > cell and state["cells"][cell]["errors"] and not state["busy"]:
            break
        time.sleep(1)
    page.wait_for_timeout(3000)
    return page.evaluate(NOTEBOOK_STATE)


# The notebook's state, read from JupyterLab's own model of it.
NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model) return null;
  const cells = [];
  const model = panel.content.model;
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    if (cell.type !== 'code') continue;
    const outputs = cell.outputs.toJSON();
    cells.push({
      count: cell.executionCount,
      errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
      outputs: outputs.length,
    });
  }
  const busy = panel.sessionContext.session?.kernel?.status === 'busy';
  return {cells, busy, kernel: panel.sessionContext.session?.kernel?.status ?? 'none'};
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notebook", default="00_setup_check.ipynb")
    parser.add_argument("--browser", default=shutil.which("chromium") or "/usr/bin/chromium")
    # A fresh kernel compiles the crate first: 824 s of a cold CI run on a loaded 2-core machine.
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for all cells")
    args = parser.parse_args()
    if not Path(args.browser).exists():
        print(f"no browser at {args.browser}: install Debian's chromium package "
              "(apt-get install chromium), or pass --browser", file=sys.stderr)
        return 2
    out_dir = ROOT / "target" / "test-lab"
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="test-lab-"))
    # Autosave off: running the cells must not write their outputs into notebooks/.
    settings = work / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        quick_env(work / "runs"),
        JUPYTERLAB_SETTINGS_DIR=str(work / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
    )
    log = open(out_dir / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.open_browser=False", "--allow-root", f"--ServerApp.root_dir={ROOT}"],
        cwd=NOTEBOOKS, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    started = time.monotonic()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_server(f"{base}/api/status?token={token}", server, timeout=120)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.browser, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{base}/lab/tree/notebooks/{args.notebook}?token={token}")
            page.wait_for_function(
                "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                " && window.jupyterapp.shell.currentWidget.sessionContext"
                " && window.jupyterapp.shell.currentWidget.sessionContext.isReady",
                timeout=600_000,
            )
            print(f"    {args.notebook} open, kernel ready after {time.monotonic() - started:.0f} s", flush=True)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            deadline = time.monotonic() + args.timeout
            state = None
            while time.monotonic() < deadline:
                state = page.evaluate(NOTEBOOK_STATE)
                done = state and all(c["count"] is not None for c in state["cells"])
                if done and not state["busy"]:
                    break
                if state and any(c["errors"] for c in state["cells"]):
                    break
                time.sleep(1)
            page.wait_for_timeout(1000)  # let the last outputs render
            page.screenshot(path=str(out_dir / "notebook-00.png"), full_page=True)
            images = page.evaluate(
                "() => [...document.querySelectorAll('.jp-OutputArea-output img')]"
                ".map(i => [i.naturalWidth, i.naturalHeight])"
            )
            # Notebook 00's kernel ends first: the next one then gets its build slot.
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
            page.wait_for_timeout(2000)
            (out_dir / STOPS_NOTEBOOK).write_text(json.dumps(stops_notebook(), indent=1))
            page.goto(f"{base}/lab/tree/target/test-lab/{STOPS_NOTEBOOK}?token={token}")
            page.wait_for_function(
                "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                " && window.jupyterapp.shell.currentWidget.title.label.startsWith('run-all-stops')"
                " && window.jupyterapp.shell.currentWidget.sessionContext.isReady",
                timeout=600_000,
            )
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            deadline = time.monotonic() + args.timeout
            stops = handout = None
            while time.monotonic() < deadline:
                stops = page.evaluate(NOTEBOOK_STATE)
                if stops and stops["cells"][2]["errors"] and not stops["busy"]:
                    break
                time.sleep(1)
            page.wait_for_timeout(3000)  # time enough for the last cell to run, were it to
            stops = page.evaluate(NOTEBOOK_STATE)
            page.screenshot(path=str(out_dir / "run-all-stops.png"), full_page=True)
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
            page.wait_for_timeout(2000)
            exercise = first_exercise(NOTEBOOKS / HANDOUT)
            open_and_run_all(page, f"{base}/lab/tree/notebooks/{HANDOUT}?token={token}", "01_lstm")
            handout = wait_for_error(page, exercise, args.timeout)
            page.screenshot(path=str(out_dir / "handout-01.png"), full_page=False)
            browser.close()
        problems = []
        if stops is None or not stops["cells"][2]["errors"]:
            problems.append(f"Run All: the failed check shows no error ({stops})")
        else:
            if not stops["cells"][2]["errors"][0].startswith("lstm_support::Error: check failed: kept is 42"):
                problems.append(f"Run All: the failed check's error is {stops['cells'][2]['errors']}")
            if stops["cells"][3]["count"] is not None or stops["cells"][3]["outputs"]:
                problems.append(f"Run All went on after the failed check: {stops['cells'][3]}")
        if handout is None or len(handout["cells"]) <= exercise:
            problems.append(f"handout 01 never opened or ran ({handout})")
        else:
            before = [i + 1 for i, c in enumerate(handout["cells"][:exercise]) if c["count"] is None or c["errors"]]
            if before:
                problems.append(f"handout 01: code cells before its first exercise did not run cleanly: {before}")
            errors = handout["cells"][exercise]["errors"]
            if not errors or not errors[0].startswith("lstm_support::Error: ") or HANDOUT_TASK not in errors[0]:
                problems.append(f"handout 01: its first exercise shows {errors}, not its task ({HANDOUT_TASK!r})")
            after = [i + 1 for i, c in enumerate(handout["cells"][exercise + 1:], exercise + 1) if c["count"] is not None]
            if after:
                problems.append(f"handout 01: Run All went on after the first exercise: code cells {after} ran")
        if state is None:
            problems.append("the notebook never opened")
        else:
            not_run = [i + 1 for i, c in enumerate(state["cells"]) if c["count"] is None]
            if not_run:
                problems.append(f"code cells that did not run: {not_run}")
            for i, c in enumerate(state["cells"]):
                for error in c["errors"]:
                    problems.append(f"code cell {i + 1} has an error output: {error}")
        if not any(w > 0 and h > 0 for w, h in images):
            problems.append(f"no rendered image of non-zero size among the outputs ({images})")
        seconds = time.monotonic() - started
        if problems:
            print("FAILED: " + "\n".join(problems), file=sys.stderr)
            print(f"screenshot: {out_dir / 'notebook-00.png'}, server log: {out_dir / 'jupyterlab.log'}", file=sys.stderr)
            return 1
        print(
            f"ok: {args.notebook} ran in JupyterLab in chromium ({len(state['cells'])} code cells, "
            f"{len(images)} images, largest {max(images)}), Run All stopped at a failed check and at "
            f"handout 01's first exercise (its task as the cell's error), "
            f"in {seconds:.0f} s; screenshots in {out_dir.relative_to(ROOT)}/",
            flush=True,
        )
        return 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
