"""nbgrader end to end, as a teacher uses it, with the real `rust-lstm` kernel (`make test` runs
this with QUICK=1).

1. `tools/nbgrader_course.py` writes a course in target/test-nbgrader/course: its
   nbgrader_config.py and source/<stem>/<stem>.ipynb for every notebook with exercises, each
   naming the crate by its absolute path.
2. In the course, with nbgrader's own commands from the project's .venv (and .venv/bin not on
   PATH: the course's config must put it there for nbgrader's `alembic`):
   `nbgrader generate_assignment 01_lstm_assignment`, then three submissions in
   submitted/<student>/: the solution (the release with every exercise answered as in the
   solution notebook), the blank release as handed out, and the solution with one answer made
   wrong (the parameter count without the biases); `nbgrader autograde`; `nbgrader export`.
3. The scores: the solution gets every autograded point, the blank handout none, the wrong
   answer loses exactly its check's point (the other checks after it still pass: the kernel
   kept its variables after the failed check). The failed check's cell holds the error
   `lstm_support::Error: check failed: ...`. Checked in grades.csv and cell by cell in the
   gradebook.

Notebook 01 is the assignment: its eleven checks, each a point, tell "exactly one check lost"
from "everything after the failure lost" (notebook 02 has one check). The three submissions
share one runs directory, so the runs the solution trains (QUICK=1: a small subset, 2 epochs at
most) are reused by the other two.

    QUICK=1 python tools/tests/test_nbgrader.py

Exit status 0 on success; on failure the reason (nbgrader's output is in
target/test-nbgrader/*.log).
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nbtools import DEP_LINE, NOTEBOOKS, ROOT  # noqa: E402

STEM = "01_lstm_assignment"
# The answer made wrong: the parameter count without the biases.
WRONG_GRADE_ID = "count"
WRONG_CHECK = "count-check"
RIGHT_LINE = "let by_hand = 4 * (28 * 32 + 32 * 32 + 32) + (32 * 10 + 10);"
WRONG_LINE = "let by_hand = 4 * (28 * 32 + 32 * 32) + 32 * 10;"
SOLUTION, BLANK, WRONG = "solution", "blank", "one-wrong"
WORK = ROOT / "target" / "test-nbgrader"
VENV_BIN = ROOT / ".venv" / "bin"


def nbgrader(course: Path, *args: str, env: dict) -> None:
    """Runs `nbgrader ARGS` in `course`; its output goes to WORK/<command>.log."""
    log = WORK / f"{args[0]}.log"
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run([str(VENV_BIN / "nbgrader"), *args], cwd=course, env=env,
                              stdout=out, stderr=subprocess.STDOUT)
    print(f"    nbgrader {' '.join(args)}: {time.monotonic() - started:.0f} s", flush=True)
    if done.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({done.returncode}):\n{log.read_text()[-4000:]}")


def submission(release: dict, source: dict, answered: bool, wrong: bool = False) -> dict:
    """The release notebook as a student hands it in: blank, or every solution cell answered as
    in the source notebook (one of them wrong when `wrong`)."""
    notebook = json.loads(json.dumps(release))
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if answered and cell["metadata"].get("nbgrader", {}).get("solution"):
            cell["source"] = answers[grade_id]
            if wrong and grade_id == WRONG_GRADE_ID:
                text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                assert RIGHT_LINE in text, f"the answer to make wrong is not in cell {grade_id}:\n{text}"
                cell["source"] = text.replace(RIGHT_LINE, WRONG_LINE)
    return notebook


def grades(course: Path) -> dict:
    """student -> {grade cell name: (auto score, max score, cell type)} from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {
            student: {g.name: (g.auto_score, g.max_score, g.cell_type)
                      for g in gradebook.find_submission_notebook(STEM, STEM, student).grades}
            for student in (SOLUTION, BLANK, WRONG)
        }


def main() -> int:
    if os.environ.get("QUICK", "") in ("", "0"):
        print("run with QUICK=1 (the quick budget), as `make test` does", file=sys.stderr)
        return 2
    started = time.monotonic()
    shutil.rmtree(WORK, ignore_errors=True)
    course = WORK / "course"
    WORK.mkdir(parents=True)
    env = dict(os.environ, LSTM_RUNS_DIR=str(WORK / "runs"))
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if Path(p).resolve() != VENV_BIN.resolve())
    try:
        subprocess.run([sys.executable, str(ROOT / "tools" / "nbgrader_course.py"), str(course),
                        *map(str, sorted(NOTEBOOKS.glob("*.ipynb")))], check=True)
        stems = sorted(p.name for p in (course / "source").iterdir())
        assert stems == ["01_lstm_assignment", "02_cnn", "03_rnn_family"], stems
        source = json.loads((course / "source" / STEM / f"{STEM}.ipynb").read_text())
        dep = "".join(source["cells"][1]["source"])
        assert DEP_LINE not in dep and f'path = "{ROOT / "lstm_support"}"' in dep, dep

        nbgrader(course, "generate_assignment", STEM, env=env)
        release = json.loads((course / "release" / STEM / f"{STEM}.ipynb").read_text())
        assert "exercise::unfinished(task)?;" in json.dumps(release), "the release kept its solutions"
        for student, notebook in ((SOLUTION, submission(release, source, answered=True)),
                                  (BLANK, submission(release, source, answered=False)),
                                  (WRONG, submission(release, source, answered=True, wrong=True))):
            target = course / "submitted" / student / STEM / f"{STEM}.ipynb"
            target.parent.mkdir(parents=True)
            target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        nbgrader(course, "autograde", STEM, env=env)
        nbgrader(course, "export", env=env)

        with (course / "grades.csv").open() as f:
            scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
        cells = grades(course)
        # The checks: graded code cells (the written answers are graded by hand).
        auto = {name for name, (_, _, kind) in cells[SOLUTION].items() if kind == "code"}
        points = sum(cells[SOLUTION][name][1] for name in auto)
        lost = cells[SOLUTION][WRONG_CHECK][1]
        print(f"    exported scores: {scores}; autograded points: {points:g}", flush=True)
        for name in sorted(auto):
            print(f"    {name:16} " + "  ".join(f"{s}={cells[s][name][0]}" for s in (SOLUTION, BLANK, WRONG)))

        assert all(cells[SOLUTION][name][0] == cells[SOLUTION][name][1] for name in auto), cells[SOLUTION]
        assert all(cells[BLANK][name][0] == 0 for name in auto), cells[BLANK]
        for name in auto:
            expected = 0 if name == WRONG_CHECK else cells[SOLUTION][name][1]
            assert cells[WRONG][name][0] == expected, f"{name}: {cells[WRONG][name]} in the wrong submission"
        assert len(auto) == 11 and points == 11, f"expected the eleven checks of notebook 01: {sorted(auto)}"
        assert scores == {SOLUTION: points, BLANK: 0.0, WRONG: points - lost}, scores

        graded = json.loads((course / "autograded" / WRONG / STEM / f"{STEM}.ipynb").read_text())
        check_cell = next(c for c in graded["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == WRONG_CHECK)
        shown = [o for o in check_cell["outputs"] if o["output_type"] == "error"]
        assert shown and shown[0]["ename"] == "lstm_support::Error" and shown[0]["evalue"].startswith("check failed: "), (
            f"the failed check's cell has no lstm_support::Error output: {check_cell['outputs']}")
    except (AssertionError, subprocess.CalledProcessError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print(f"ok: nbgrader course of {STEM}: solution {scores[SOLUTION]:g}, blank {scores[BLANK]:g}, "
          f"one wrong answer {scores[WRONG]:g} of {points:g} autograded points "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
