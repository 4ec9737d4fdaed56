"""The handouts, as a student first runs them (`make test` runs this).

For each `notebooks/handouts/*.ipynb`, in the real `rust-lstm` kernel, started in the handouts'
directory with QUICK=1 and a runs directory of its own:

1. the handout is up to date: regenerating it from its solution notebook gives the same file
   (`make handouts`);
2. the cells run in order until the first code exercise, which must stop with that exercise's
   own message (`exercise not done yet: <its task>`) as the cell's error, not a compile error
   or a crash (the kernel makes the stub's `?` error a Jupyter error, `tools/kernel_proxy.py`:
   in JupyterLab it shows as the cell's error and "Run All" stops there);
3. the kernel is still alive with the earlier cells' variables (an error value, not a panic,
   which would have killed it): a probe cell reads `session`.

A handout with written answers only (notebook 03) must run to its end instead.

The solution notebooks themselves pass every check cell in `make test`'s quick run of the
notebooks, which stops at any failing cell.

    python tools/tests/test_handouts.py notebooks/handouts/*.ipynb
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from make_handouts import handout_text  # noqa: E402
from nbtools import KERNEL, NOTEBOOKS, output_text, quick_env  # noqa: E402

PROBE = 'println!("kernel alive: quick = {}", session.is_quick());'


def task_of(cell) -> str:
    for line in cell.source.splitlines():
        if line.startswith('let task = "'):
            return line[len('let task = "'):].rsplit('";', 1)[0]
    raise SystemExit(f"exercise cell without a `let task = \"...\";` line:\n{cell.source}")


def check(path: Path) -> list[str]:
    problems = []
    solution = NOTEBOOKS / path.name
    expected = handout_text(nbformat.read(solution, as_version=4))
    if path.read_text(encoding="utf-8") != expected:
        problems.append(f"{path} is not what `make handouts` writes from {solution}: run `make handouts`")
    notebook = nbformat.read(path, as_version=4)
    exercises = [
        i
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    ]
    # A handout with written answers only (notebook 03) must run to its end.
    first = exercises[0] if exercises else None
    task = task_of(notebook.cells[first]) if exercises else None
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(notebook, kernel_name=KERNEL, timeout=1800,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.time()
    stopped_at, message = None, ""
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells[:-1]):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as error:
                # The stub's error, as the kernel reports it (tools/kernel_proxy.py).
                stopped_at, message = index, str(error)
                break
        try:
            client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1)
            probe = "".join(output_text(o) for o in notebook.cells[-1].outputs)
        except CellExecutionError as error:
            probe = f"the probe failed: {error}"
    seconds = time.time() - started
    if stopped_at != first:
        expected = "to run to its end" if first is None else f"to stop at the first exercise (cell {first})"
        problems.append(f"{path}: expected {expected}, stopped at {stopped_at}:\n{message}")
    elif task is not None and f"exercise not done yet: {task}" not in message:
        problems.append(f"{path}: the first exercise (cell {first}) did not stop with its task:\n{message}")
    if "kernel alive: quick = true" not in probe:
        problems.append(f"{path}: after the exercise's error the kernel lost its variables: {probe}")
    if not problems:
        what = "ran to its end (written answers only)" if first is None else f"stopped at its first exercise (cell {first}) with its task"
        print(f"{path}: {what}; kernel alive ({seconds:.0f} s)")
    return problems


def main() -> int:
    paths = [Path(p) for p in sys.argv[1:]]
    if not paths:
        print(__doc__)
        return 2
    problems = []
    with tempfile.TemporaryDirectory(prefix="handout-runs-") as runs:
        # The kernels nbclient starts inherit this process's environment.
        os.environ.update(quick_env(Path(runs)))
        for path in paths:
            problems += check(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
