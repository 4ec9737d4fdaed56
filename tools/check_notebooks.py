"""Checks the notebooks read like course material (`make test` runs it):

- no code cell longer than 8 lines, not counting `use` lines, comments and blank lines
  (a `:dep` line is a kernel command, not code);
- no `unwrap`, `expect` or `panic!`: a panic in an evcxr cell kills the kernel and every
  variable with it;
- no Debug formatting (`{:?}`, `{x:?}`, `dbg!`): outputs are written for readers;
- no absolute path of the machine that ran it in any output, and no Debug-printed struct
  (`Name { field: ...}`) in one.

    python tools/check_notebooks.py notebooks/*.ipynb
"""
import json
import re
import sys
from pathlib import Path

from nbtools import output_text

MAX_LINES = 8
FORBIDDEN = [
    (re.compile(r"\.unwrap\(\)|\.expect\(|\bpanic!|\bunreachable!|\btodo!"), "unwrap/expect/panic"),
    (re.compile(r"\{[a-z_0-9]*:[^}]*\?\}|\bdbg!"), "Debug formatting"),
]
ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:work|root|home|tmp|usr|opt|mnt|srv|var)/")
DEBUG_STRUCT = re.compile(r"\b[A-Z][A-Za-z]+ \{ [a-z_]+: ")


def problems(path):
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        counted = [
            line
            for line in source.splitlines()
            if line.strip()
            and not line.strip().startswith(("use ", "//", ":dep"))
        ]
        if len(counted) > MAX_LINES:
            yield f"{path} cell {number}: {len(counted)} lines of code (at most {MAX_LINES})"
        for pattern, what in FORBIDDEN:
            if pattern.search(source):
                yield f"{path} cell {number}: {what}"
        for output in cell.get("outputs", []):
            text = output_text(output)
            if ABSOLUTE_PATH.search(text):
                yield f"{path} cell {number}: an absolute path in the output"
            if DEBUG_STRUCT.search(text):
                yield f"{path} cell {number}: a Debug-printed struct in the output"
            if output.get("output_type") == "error":
                yield f"{path} cell {number}: an error output"


def main(paths):
    found = [p for path in paths for p in problems(path)]
    for problem in found:
        print(problem)
    print(f"{len(paths)} notebooks checked, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
