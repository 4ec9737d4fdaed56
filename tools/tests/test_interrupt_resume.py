"""Interrupt and resume, as a JupyterLab user does it, against the real evcxr kernel.

1. Starts the project's kernel (`rust-lstm`) in notebooks/, with its own runs directory
   (`LSTM_RUNS_DIR`) and QUICK=1, and runs the notebook API's cells: the crate, a session, a
   training run (`session.run(&spec)?`).
2. The training cell is interrupted (a Jupyter `interrupt_request`, the stop button) once the
   first epoch is checkpointed: the crate's pause point `batch#N` holds the process at a batch
   of the second epoch and says so on stderr, and the test interrupts it there.
3. evcxr kills its subprocess on an interrupt: the test checks that the session's variables
   are gone, as a user would find them, then re-runs the cells from the top.
4. The re-run must say that it resumed from epoch 1, and end with the same record as an
   uninterrupted run of the same spec (trained by the same kernel in another runs directory).

Exit status 0 on success; on failure the reason and the kernel's outputs so far.
"""
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nbtools import DEP_LINE, Kernel, quick_env, run_kernel_test  # noqa: E402

# QUICK=1: 2,400 training rows in batches of 128 make 19 batches an epoch; batch 25 is in the
# second (and last) epoch.
PAUSE_AT = "batch#25"
EPOCH_BATCHES = 19

SETUP = [
    DEP_LINE,
    "use lstm_support::session::Session;\n"
    "use lstm_support::record::RunSpec;\n"
    "use lstm_support::model::ModelConfig;",
    "let session = Session::from_env()?;",
    'let spec = RunSpec::new("interrupt test", ModelConfig::lstm(32, 0.15));',
]
TRAIN = "let run = session.run(&spec)?;\nprintln!(\"test accuracy {:.4}\", run.record.test.accuracy);"


def record_of(runs_dir: Path) -> dict:
    """The run's record, without the wall times of its epochs."""
    records = list(runs_dir.glob("*/record.json"))
    assert len(records) == 1, f"expected one run in {runs_dir}, found {records}"
    record = json.loads(records[0].read_text())
    for epoch in record["history"]["epochs"]:
        epoch.pop("seconds", None)
    return record


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="interrupt-test-"))
    interrupted_runs, reference_runs = scratch / "interrupted", scratch / "reference"

    def interrupt_and_resume(kernel: Kernel) -> None:
        kernel.run_all(SETUP)
        # The pause point is read once per evcxr subprocess: set it in this one only.
        kernel.run_all([f'unsafe {{ std::env::set_var("LSTM_SUPPORT_PAUSE_AT", "{PAUSE_AT}") }};'])
        started = time.monotonic()

        def interrupt_at_pause(line: str) -> None:
            if line.startswith("paused at batch"):
                checkpoints = list(interrupted_runs.glob("*/checkpoint/checkpoint.json"))
                assert checkpoints, "paused in epoch 2 but no checkpoint of epoch 1 exists"
                print(f"    interrupting the training cell after {time.monotonic() - started:.0f} s", flush=True)
                kernel.interrupt()

        status, printed = kernel.execute(TRAIN, on_line=interrupt_at_pause)
        assert status != "ok", f"the training cell was not interrupted:\n{printed}"
        assert not list(interrupted_runs.glob("*/record.json")), "the run finished despite the interrupt"
        # What the user sees next: the variables are gone.
        status, printed = kernel.execute("println!(\"{}\", session.describe());")
        assert status != "ok", f"the session survived the interrupt:\n{printed}"
        print(f"    after the interrupt, the next cell says: {printed.strip().splitlines()[0][:100]}", flush=True)

        # Re-run from the top.
        printed = kernel.run_all(SETUP + [TRAIN])
        assert "resuming from its checkpoint after epoch 1 of 2" in printed, (
            f"the re-run did not say it resumed after epoch 1:\n{printed}"
        )
        resumed = record_of(interrupted_runs)

        # The same spec, uninterrupted, in another runs directory.
        reference_session = (
            "let session = Session::new(session.device(), "
            f'"{reference_runs}").quick(true);'
        )
        kernel.run_all([reference_session, TRAIN])
        reference = record_of(reference_runs)
        for key in ("history", "test"):
            assert resumed[key] == reference[key], (
                f"the resumed run's {key} differs from the uninterrupted run's:\n"
                f"{json.dumps(resumed[key])[:800]}\n{json.dumps(reference[key])[:800]}"
            )
        epochs = len(resumed["history"]["epochs"])
        print(
            f"ok: interrupted in epoch 2, re-run resumed after epoch 1, {epochs} epochs and test "
            f"accuracy {resumed['test']['accuracy']:.4f} equal to an uninterrupted run",
            flush=True,
        )

    return run_kernel_test(quick_env(interrupted_runs), interrupt_and_resume)


if __name__ == "__main__":
    sys.exit(main())
