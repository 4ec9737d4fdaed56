"""Writes an nbgrader course directory for the notebooks with exercises
(`make nbgrader-course COURSE=<dir>` runs it):

    <dir>/nbgrader_config.py              the course's settings (below)
    <dir>/source/<stem>/<stem>.ipynb      each solution notebook with exercises, outputs cleared

where `<stem>` is the notebook's file name without `.ipynb`. The notebook's
`:dep lstm_support = { path = "../lstm_support" }` line names the crate by its absolute path,
so the notebook finds it from any directory nbgrader runs it in (release/, submitted/,
autograded/ and the students' own copies). In that directory nbgrader's own commands then work
from the project's .venv:

    nbgrader generate_assignment 01_lstm_assignment    # release/: the students' handout
    nbgrader autograde 01_lstm_assignment              # after collecting into submitted/<student>/
    nbgrader export                                    # grades.csv

The course's nbgrader_config.py:

- takes the exercises' stubs from the project's notebooks/nbgrader_config.py (the same
  ClearSolutions settings as `make handouts`);
- puts the project's .venv/bin first on PATH: nbgrader runs `alembic` for its gradebook;
- gives each cell time enough: the first cell builds the crate in the kernel (minutes on a cold
  cache), and a training cell trains. With QUICK=1 in the environment (inherited by the kernel,
  which then runs every notebook on a small subset for at most 2 epochs) a cell gets 20 minutes,
  else 4 hours.

Finished runs are reused from the project's runs/ (or $LSTM_RUNS_DIR), as in the notebooks:
submissions that train the same specs train them once.

    python tools/nbgrader_course.py COURSE_DIR notebooks/*.ipynb
"""
import argparse
import json
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor

from make_handouts import has_exercises
from nbtools import DEP_LINE, NOTEBOOKS, ROOT, write_atomically

CONFIG = '''\
# nbgrader settings of this course, written by `make nbgrader-course` (tools/nbgrader_course.py)
# from the lstm_support project at {root}.
import importlib.util
import os

PROJECT = {root!r}

# The exercises' stubs: the project's own ClearSolutions settings (also used by `make handouts`).
_spec = importlib.util.spec_from_file_location(
    "lstm_support_nbgrader_config", os.path.join(PROJECT, "notebooks", "nbgrader_config.py"))
_settings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_settings)

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
_settings.configure_clear_solutions(c)

# nbgrader runs `alembic` for its gradebook; the kernel finds its own tools.
_bin = os.path.join(PROJECT, ".venv", "bin")
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

# Seconds a cell may run: the first builds lstm_support in the kernel, training cells train.
# QUICK=1 (inherited by the kernel: a small subset, at most 2 epochs) needs far less.
_quick = os.environ.get("QUICK", "") not in ("", "0")
_timeout = 20 * 60 if _quick else 4 * 3600
for _executor in (c.Execute, c.ExecutePreprocessor):
    _executor.timeout = _timeout
    _executor.startup_timeout = 600
'''


def course_notebook(notebook):
    """`notebook` as the course's source: outputs cleared, the crate named by its absolute path."""
    clear = ClearOutputPreprocessor(remove_metadata_fields={"collapsed", "scrolled", "execution"})
    notebook, _ = clear.preprocess(notebook, {})
    absolute = f':dep lstm_support = {{ path = {json.dumps(str(ROOT / "lstm_support"))} }}'
    dep_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and DEP_LINE in cell.source]
    if len(dep_cells) != 1:
        raise SystemExit(f"expected one `{DEP_LINE}` cell, found {len(dep_cells)}")
    dep_cells[0].source = dep_cells[0].source.replace(DEP_LINE, absolute)
    return notebook


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("course", type=Path, help="the course directory (created if missing)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args()
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    course = args.course.resolve()
    course.mkdir(parents=True, exist_ok=True)
    write_atomically(course / "nbgrader_config.py", CONFIG.format(root=str(ROOT)))
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        if not has_exercises(notebook):
            continue
        stem = path.stem
        target = course / "source" / stem / f"{stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, nbformat.writes(course_notebook(notebook)) + "\n")
        print(f"{target.relative_to(course)}")
    print(f"{course}: nbgrader course written; there run `nbgrader generate_assignment <stem>`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
