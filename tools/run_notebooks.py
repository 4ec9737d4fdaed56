"""Executes notebooks headlessly with the project's evcxr kernel (`make notebooks`).

Each notebook is run top to bottom in a fresh kernel. On success the executed notebook, with
its outputs, replaces the original (or goes to --output-dir) and an HTML export is written to notebooks/html/. On the
first failing cell the notebook on disk is left as it was, the error is printed, and the exit
status is non-zero.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbconvert import HTMLExporter


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run(path: Path, kernel: str, timeout: int, out_dir: Path | None, html_dir: Path) -> bool:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=timeout,
        # A fresh evcxr kernel compiles tch before its first cell: give it time to start.
        startup_timeout=600,
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.monotonic()
    print(f"==> {path}: executing with kernel '{kernel}'", flush=True)
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as error:
        print(f"FAILED {path} after {time.monotonic() - started:.0f} s:\n{error}", file=sys.stderr)
        # evcxr reports compile errors and `?` errors as outputs of the cell, not always in
        # the error's traceback: show what the failing cell printed.
        failing = [c for c in notebook.cells if c.get("cell_type") == "code" and c.get("outputs")]
        for output in failing[-1].outputs if failing else []:
            text = output.get("text") or "\n".join(output.get("traceback", [])) or output.get("evalue", "")
            if not text and "data" in output:
                text = output["data"].get("text/plain", "")
            print(text, file=sys.stderr)
        return False
    executed = path if out_dir is None else out_dir / path.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(executed, nbformat.writes(notebook))
    html, _ = HTMLExporter().from_notebook_node(notebook)
    html_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(html_dir / f"{path.stem}.html", html)
    print(f"    done in {time.monotonic() - started:.0f} s; outputs saved, HTML in {html_dir}", flush=True)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--kernel", default="rust-lstm")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--output-dir", type=Path, help="write executed notebooks here, not in place")
    parser.add_argument("--html-dir", type=Path, default=Path("notebooks/html"))
    args = parser.parse_args()
    failed = [
        nb
        for nb in sorted(args.notebooks)
        if not run(nb, args.kernel, args.timeout, args.output_dir, args.html_dir)
    ]
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
