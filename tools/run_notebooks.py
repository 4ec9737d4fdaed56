"""Executes notebooks headlessly with the project's evcxr kernel (`make notebooks`).

Each notebook is run top to bottom in a fresh kernel. While it runs, the terminal shows which
code cell is running (number of total, elapsed time) and the cell's own output lines as they
arrive (the per-epoch training lines), and a line every minute while a cell is silent (the
first cell compiles the crate). At the end a table lists each notebook, its seconds and its
status.

On success the executed notebook, with its outputs, replaces the original (or goes to
--output-dir) and an HTML export is written to --html-dir. On the first failing cell the
notebook on disk is left as it was, the failing cell and its error are printed, and the exit
status is non-zero.

With --jobs 2 (what `make notebooks` uses) two notebooks run at once, each in its own kernel,
process and build slot (tools/evcxr-kernel). The first worker runs at normal priority, the
others at idle priority (Linux's SCHED_IDLE and, for their kernels, a niced autogroup; `nice 19`
elsewhere): they get a core when the first leaves one idle, as it does while evcxr compiles a
cell (a cached re-run is mostly that: 90 s against 146 s one at a time, 2026-12-04) or while
libtorch runs the head and optimiser step on one thread. At equal priority, a CNN's libtorch
threads waited on each other at every OpenMP barrier while the other notebook held a core: its
training took 2.9x as long. Idle priority does not make the second notebook free: sharing the
cores' caches, the first notebook's recurrent epochs ran a fifth to a half slower beside it
(the full run from an empty runs/: 782 s against 861 s one at a time). The first worker takes
the notebooks in file order, the others from the end, so the training times a notebook prints
are its own only if the first worker ran it (`--jobs 1` for clean timings). Threads and work
are the same as one at a time, so the results are bit for bit the same (compared run by run,
records and weights); the notebooks share only `runs/`, where each trains runs of its own.
"""
import argparse
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

from nbtools import KERNEL, output_text, write_atomically

# A silent cell gets a "still running" line this often.
HEARTBEAT_SECONDS = 60


def minutes(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class ProgressClient(NotebookClient):
    """A NotebookClient that reports each code cell and streams its text output."""

    def __init__(self, notebook, name: str, tag_lines: bool = False, **kwargs):
        super().__init__(notebook, **kwargs)
        self.name = name
        # With notebooks running side by side, each output line says whose it is.
        self.line_prefix = f"    [{name}] | " if tag_lines else "    | "
        code = [i for i, c in enumerate(notebook.cells) if c.get("cell_type") == "code"]
        self.ordinal = {index: n + 1 for n, index in enumerate(code)}
        self.total = len(code)
        self.started = time.monotonic()
        self.cell_started = self.started
        # The index (among all cells) of the code cell running, or that ran last.
        self.current_index: int | None = None
        self.last_print = self.started
        self.lock = threading.Lock()
        self.on_cell_start = self.cell_start
        self.on_cell_executed = self.cell_executed

    def position(self) -> str:
        """`k/N`: the running code cell's number among the notebook's code cells."""
        number = self.ordinal.get(self.current_index, "?")
        return f"{number}/{self.total}"

    def say(self, line: str) -> None:
        with self.lock:
            print(line, flush=True)
            self.last_print = time.monotonic()

    def cell_start(self, cell, cell_index: int) -> None:
        if cell_index not in self.ordinal:
            return
        self.current_index = cell_index
        self.cell_started = time.monotonic()
        first = cell.source.strip().splitlines()[:1]
        title = first[0][:60] if first else ""
        self.say(
            f"[{self.name} {minutes(self.cell_started - self.started)}] "
            f"cell {self.position()}: {title}"
        )

    def cell_executed(self, cell, cell_index: int, execute_reply) -> None:
        if cell_index not in self.ordinal:
            return
        seconds = time.monotonic() - self.cell_started
        if seconds >= 5:
            self.say(f"[{self.name}] cell {self.position()} took {seconds:.0f} s")

    def output(self, outs, msg, display_id, cell_index):
        content = msg["content"]
        if msg["msg_type"] == "stream":
            for line in content.get("text", "").splitlines():
                if line.strip():
                    self.say(f"{self.line_prefix}{line}")
        elif msg["msg_type"] == "error":
            self.say(
                f"{self.line_prefix}error: {content.get('ename', '')}: {content.get('evalue', '')}"
            )
        return super().output(outs, msg, display_id, cell_index)

    def heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(5):
            now = time.monotonic()
            if self.current_index is not None and now - self.last_print >= HEARTBEAT_SECONDS:
                self.say(
                    f"[{self.name} {minutes(now - self.started)}] cell {self.position()} "
                    f"still running ({now - self.cell_started:.0f} s)"
                )


def show_failure(notebook, index: int | None, error: Exception) -> None:
    """The failing cell's source and what it printed (evcxr reports compile errors and `?`
    errors as outputs of the cell, not always in the error's traceback)."""
    print(f"{error}", file=sys.stderr)
    if index is None:
        return
    failing = notebook.cells[index]
    print("--- the failing cell:", file=sys.stderr)
    print(failing.source, file=sys.stderr)
    print("--- its output:", file=sys.stderr)
    for output in failing.get("outputs", []):
        print(output_text(output, mimetypes=("text/plain",)), file=sys.stderr)


def run(
    path: Path,
    kernel: str,
    timeout: int,
    out_dir: Path | None,
    html_dir: Path,
    tag_lines: bool = False,
) -> tuple[bool, float]:
    notebook = nbformat.read(path, as_version=4)
    client = ProgressClient(
        notebook,
        name=path.stem,
        tag_lines=tag_lines,
        kernel_name=kernel,
        timeout=timeout,
        # A fresh evcxr kernel compiles tch before its first cell, and a kernel at idle priority
        # (--jobs) may wait for a core: give it as long as a cell.
        startup_timeout=max(600, timeout),
        # Nothing is left to save once the last cell has run: a graceful evcxr shutdown took
        # about a second more per notebook.
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(path.parent)}},
    )
    print(f"==> {path}: {client.total} code cells, kernel '{kernel}'", flush=True)
    stop = threading.Event()
    beat = threading.Thread(target=client.heartbeat, args=(stop,), daemon=True)
    beat.start()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        seconds = time.monotonic() - client.started
        print(f"FAILED {path} in cell {client.position()} after {seconds:.0f} s:", file=sys.stderr)
        show_failure(notebook, client.current_index, error)
        return False, seconds
    finally:
        stop.set()
    seconds = time.monotonic() - client.started
    executed = path if out_dir is None else out_dir / path.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(executed, nbformat.writes(notebook))
    html, _ = HTMLExporter().from_notebook_node(notebook)
    html_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(html_dir / f"{path.stem}.html", html)
    print(f"    {path.name} done in {seconds:.0f} s; outputs saved, HTML in {html_dir}", flush=True)
    return True, seconds


def lower_priority() -> None:
    """This process and its children (the kernel, evcxr, cargo) run only on idle cores. Each
    kernel starts a session, and so an autogroup, of its own, which Linux weighs against other
    sessions by the autogroup's nice value, not its processes': tools/evcxr-kernel sets that
    when LSTM_KERNEL_IDLE is set."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:
        os.nice(19)
    os.environ["LSTM_KERNEL_IDLE"] = "1"


class Schedule:
    """The notebooks, shared by the workers: the first takes them from the front (in file
    order, so the setup check reports first and the next notebook runs at full speed), the
    others from the back."""

    def __init__(self, context, count: int):
        self.lock = context.Lock()
        self.front = context.Value("i", 0, lock=False)
        self.back = context.Value("i", count - 1, lock=False)

    def take(self, from_front: bool) -> int | None:
        with self.lock:
            if self.front.value > self.back.value:
                return None
            if from_front:
                self.front.value += 1
                return self.front.value - 1
            self.back.value -= 1
            return self.back.value + 1


def worker(first: bool, notebooks: list[Path], schedule: Schedule, results, args) -> None:
    """Runs notebooks until none is left; the first worker keeps its priority."""
    if not first:
        lower_priority()
    while (index := schedule.take(from_front=first)) is not None:
        try:
            outcome = run(notebooks[index], args.kernel, args.timeout, args.output_dir, args.html_dir, True)
        except Exception:  # noqa: BLE001 (reported as that notebook's failure; the rest go on)
            traceback.print_exc()
            outcome = (False, 0.0)
        results.put((index, outcome))


def run_side_by_side(notebooks: list[Path], args) -> list[tuple[bool, float]]:
    """`args.jobs` worker processes, each notebook in one of them (each client has its own
    event loop and kernel)."""
    context = multiprocessing.get_context("spawn")
    schedule, results = Schedule(context, len(notebooks)), context.Queue()
    # Daemonic: they end when this process does (an error, Ctrl-C, or a SIGTERM, which main()
    # turns into an exit), instead of going on with the notebooks left.
    workers = [
        context.Process(target=worker, args=(n == 0, notebooks, schedule, results, args), daemon=True)
        for n in range(min(args.jobs, len(notebooks)))
    ]
    for process in workers:
        process.start()
    outcomes: dict[int, tuple[bool, float]] = {}
    while len(outcomes) < len(notebooks):
        if not any(process.is_alive() for process in workers) and results.empty():
            break
        with contextlib.suppress(Empty):
            index, outcome = results.get(timeout=1)
            outcomes[index] = outcome
    for process in workers:
        process.join()
    return [outcomes.get(index, (False, 0.0)) for index in range(len(notebooks))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--kernel", default=KERNEL)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--output-dir", type=Path, help="write executed notebooks here, not in place")
    parser.add_argument("--html-dir", type=Path, default=Path("notebooks/html"))
    parser.add_argument(
        "--jobs", type=int, default=1, help="notebooks run at once, each in its own kernel"
    )
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more notebooks to run at once")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    notebooks = sorted(args.notebooks)
    started = time.monotonic()
    if args.jobs == 1:
        outcomes = [
            run(notebook, args.kernel, args.timeout, args.output_dir, args.html_dir)
            for notebook in notebooks
        ]
    else:
        outcomes = run_side_by_side(notebooks, args)
    wall = time.monotonic() - started
    results = [
        (notebook.name, seconds, "ok" if ok else "FAILED")
        for notebook, (ok, seconds) in zip(notebooks, outcomes)
    ]
    width = max(len(name) for name, _, _ in results)
    print(f"\n{'notebook':<{width}}  seconds  status")
    for name, seconds, status in results:
        print(f"{name:<{width}}  {seconds:7.0f}  {status}")
    print(f"{'total':<{width}}  {sum(s for _, s, _ in results):7.0f}")
    if args.jobs > 1:
        print(f"{'wall clock':<{width}}  {wall:7.0f}  ({args.jobs} at once)")
    failed = [name for name, _, status in results if status != "ok"]
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
