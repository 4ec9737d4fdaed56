"""A wrong input in the real evcxr kernel, as a student meets it: an error value that says what
the model expected, not a panic inside libtorch's wrappers (`make test` runs it).

1. Starts the project's kernel (`rust-lstm`) in notebooks/, loads the crate and builds a small
   model (`Model::new(&ModelConfig::lstm(32, 0.15), 42, Device::Cpu)?`); a cell defines a
   variable.
2. The next cell calls `model.probabilities(&wrong_shape)?` with one image of [28, 28], without
   its batch dimension: the cell must print the crate's message (what it expected, what came,
   what to do) and nothing of a panic (`panicked`, `tensor_generated.rs`).
3. evcxr drops the variables of a cell that returned an error with `?`, and only those: the
   next cells must still see the model and the earlier variable, no longer the failed cell's,
   and the model must still answer a batch of the right shape.

    python tools/tests/test_error_values.py

Exit status 0 on success; on failure the reason and the kernel's outputs so far.
"""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nbtools import DEP_LINE, PANIC_MARKS, Kernel, quick_env, run_kernel_test  # noqa: E402

SETUP = [
    DEP_LINE,
    "use lstm_support::model::{Model, ModelConfig};\n"
    "use lstm_support::tch::{Device, Kind, Tensor};\n"
    "let model = Model::new(&ModelConfig::lstm(32, 0.15), 42, Device::Cpu)?;",
    'let kept = String::from("defined before the error");',
]
WRONG_SHAPE = (
    "let wrong_shape = Tensor::zeros([28, 28], (Kind::Float, Device::Cpu));\n"
    "let probabilities = model.probabilities(&wrong_shape)?;\n"
    'println!("not reached: {}", probabilities.size().len());'
)
MESSAGE = (
    "invalid images: expected shape [batch, 28, 28] (a batch of images of 28 rows of 28 pixels; "
    "the first k rows alone: [batch, k, 28]), got [28, 28]; "
    "for one image, make a batch of one: image.unsqueeze(0)"
)
STILL_THERE = (
    'println!("{kept}; {} parameters", model.parameter_count());\n'
    "let batch = Tensor::zeros([1, 28, 28], (Kind::Float, Device::Cpu));\n"
    'println!("probabilities of shape {}", model.probabilities(&batch)?.size().len());'
)
GONE = 'println!("{}", wrong_shape.size().len());'


def wrong_shape(kernel: Kernel) -> None:
    kernel.run_all(SETUP)
    _, printed = kernel.execute(WRONG_SHAPE, wait_for=MESSAGE)
    assert MESSAGE in printed, f"the cell did not print the crate's message:\n{printed}"
    marks = [mark for mark in PANIC_MARKS if mark in printed]
    assert not marks, f"the cell printed a panic ({', '.join(marks)}):\n{printed}"
    assert "not reached" not in printed, f"the cell went on after the error:\n{printed}"
    print(f"    the wrong shape says: {printed.strip().splitlines()[-1]}", flush=True)

    status, printed = kernel.execute(STILL_THERE)
    assert status == "ok", f"the earlier variables are gone after the error ({status}):\n{printed}"
    assert "defined before the error; 8138 parameters" in printed, printed
    assert "probabilities of shape 2" in printed, printed
    status, printed = kernel.execute(GONE)
    assert status != "ok", f"the failed cell's variable survived its error:\n{printed}"
    print("ok: a wrong shape is an error value with the crate's message; the earlier variables "
          "and the model survive it, the failed cell's are dropped", flush=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="error-values-runs-") as runs:
        return run_kernel_test(quick_env(Path(runs)), wrong_shape)


if __name__ == "__main__":
    sys.exit(main())
