"""Writes the handouts: `notebooks/handouts/*.ipynb`, the solution notebooks with every exercise
cleared (`make handouts` runs it; the results are committed).

nbgrader's conventions and its `ClearSolutions` preprocessor, run through nbconvert:

- an exercise is a cell with nbgrader's solution metadata whose code between the lines
  `// BEGIN SOLUTION` and `// END SOLUTION` is the answer; ClearSolutions replaces it with
  the Rust stub below, which stops the cell with the cell's own `task` sentence (an error
  value: a panic in evcxr would kill the kernel and every variable);
- the check cell after it (nbgrader's "autograder tests" metadata) stays as it is;
- a written answer (a markdown cell with solution metadata: the notebooks' conclusions) is
  replaced by a prompt to write one;
- outputs (and execution timestamps) are cleared, and the crate's path is rewritten for the
  handouts' directory, one level deeper.

Notebooks without exercises get no handout. Teachers who use nbgrader itself get a course
directory with the same ClearSolutions settings (`notebooks/nbgrader_config.py`) from
`make nbgrader-course` (`tools/nbgrader_course.py`).

    python tools/make_handouts.py notebooks/*.ipynb --out notebooks/handouts
"""
import argparse
import json
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor
from nbgrader.preprocessors import ClearSolutions
from traitlets.config import Config

from nbtools import DEP_LINE, NOTEBOOKS, write_atomically

sys.path.insert(0, str(NOTEBOOKS))
from nbgrader_config import configure_clear_solutions  # noqa: E402  (one definition for both tools)

HANDOUT_DEP_LINE = ':dep lstm_support = { path = "../../lstm_support" }'


def has_exercises(notebook) -> bool:
    return any(cell.metadata.get("nbgrader", {}).get("solution") for cell in notebook.cells)


def handout(notebook):
    config = Config()
    configure_clear_solutions(config)
    resources = {}
    notebook, resources = ClearSolutions(config=config).preprocess(notebook, resources)
    # Outputs, execution counts and nbclient's execution timestamps: a handout depends on the
    # solution notebook's sources only, so re-running the notebooks leaves it unchanged.
    clear = ClearOutputPreprocessor(remove_metadata_fields={"collapsed", "scrolled", "execution"})
    notebook, resources = clear.preprocess(notebook, resources)
    dep_lines = 0
    for cell in notebook.cells:
        if cell.cell_type == "code" and DEP_LINE in cell.source:
            cell.source = cell.source.replace(DEP_LINE, HANDOUT_DEP_LINE)
            dep_lines += 1
    if dep_lines != 1:
        raise SystemExit(f"expected one `{DEP_LINE}` cell, found {dep_lines}")
    return notebook


def handout_text(notebook) -> str:
    """The handout of `notebook` as `make handouts` writes it."""
    return json.dumps(handout(notebook), indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("notebooks/handouts"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        notebook = nbformat.read(path, as_version=4)
        if not has_exercises(notebook):
            continue
        solutions = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")]
        exercises = sum(c.cell_type == "code" for c in solutions)
        written = len(solutions) - exercises
        target = args.out / path.name
        write_atomically(target, handout_text(notebook))
        print(f"{target}: {exercises} exercises, {written} written answers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
