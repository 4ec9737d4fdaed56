"""A cell that fails at run time is a Jupyter error in the real `rust-lstm` kernel
(`tools/kernel_proxy.py` in front of evcxr; `make test` runs this).

In one kernel, through jupyter_client, as JupyterLab and nbgrader talk to it:

1. a passing check cell is unchanged: status "ok", its stdout, no error, no stderr;
2. a failed `exercise::check(false, hint)?` gives an `error` output and an `execute_reply` with
   status "error", both with ename "lstm_support::Error", evalue "check failed: <hint>" and a
   traceback; the marker line the crate prints is not shown, nor evcxr's stderr copy, and the
   cell stops there; the next cell still sees the variables defined before it;
3. an unfinished exercise (`exercise::unfinished(task)?`, the handouts' stub) the same, with
   its task;
4. any other error returned by `?` (a `ParseIntError`): ename "Error", evalue its message;
5. a compile error: evcxr's own error, whose reply now also has ename, evalue and traceback;
6. three cells sent at once, as "Run All" does, the second failing: the third is aborted
   (status "aborted", never run), and a cell sent afterwards runs;
7. a panic: ename "panic", evalue the panic's message; the next cell still sees the variables.

    python tools/tests/test_kernel_errors.py

Exit status 0 on success; on failure the reason and the kernel's outputs so far.
"""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nbtools import DEP_LINE, Kernel, quick_env, run_kernel_test  # noqa: E402

SETUP = [
    DEP_LINE,
    "use lstm_support::exercise::{self, check};",
    "let kept = 41 + 1;",
]
PASSING = 'check(kept == 42, "never shown")?;\nprintln!("passed with {kept}");'
FAILING = 'let lost = 7;\ncheck(kept == 0, "kept is 42, not 0")?;\nprintln!("not reached {lost}");'
UNFINISHED = 'exercise::unfinished("write the answer")?;'
PARSE = 'let n: i32 = "forty-two".parse()?;\nprintln!("not reached {n}");'
COMPILE_ERROR = "let y = no_such_variable + 1;"
PANIC = 'let empty: Vec<i32> = Vec::new();\nprintln!("{}", empty[3]);'
FIELDS = ("ename", "evalue", "traceback")


def stream(outputs, name: str) -> str:
    return "".join(c["text"] for kind, c in outputs if kind == "stream" and c["name"] == name)


def errors(outputs) -> list[dict]:
    return [c for kind, c in outputs if kind == "error"]


def assert_error(code: str, reply: dict, outputs: list, ename: str, evalue_start: str) -> dict:
    """The cell's reply and its one error output say `ename`, with an evalue starting with
    `evalue_start`, and a traceback."""
    shown = errors(outputs)
    assert reply["status"] == "error", f"reply {reply} for:\n{code}\noutputs {outputs}"
    assert all(field in reply for field in FIELDS), f"the error reply lacks a field: {reply}"
    # One error output; a compile error can have several, the reply names the first.
    assert len(shown) == 1 or (shown and code == COMPILE_ERROR), f"expected one error output, got {outputs}"
    error = shown[0]
    for content in (reply, error):
        assert content["ename"] == ename, f"ename {content['ename']!r}, expected {ename!r}: {content}"
        assert content["evalue"].startswith(evalue_start), f"evalue {content['evalue']!r}: {content}"
        assert isinstance(content["traceback"], list) and content["traceback"], content
    return error


def errors_are_jupyter_errors(kernel: Kernel) -> None:
    kernel.run_all(SETUP)

    reply, outputs = kernel.run_cell(PASSING)
    assert reply["status"] == "ok" and "ename" not in reply, reply
    assert stream(outputs, "stdout") == "passed with 42\n", outputs
    assert not errors(outputs) and not stream(outputs, "stderr"), outputs
    print("ok: a passing check cell: status ok, its output, nothing else", flush=True)

    reply, outputs = kernel.run_cell(FAILING)
    assert_error(FAILING, reply, outputs, "lstm_support::Error", "check failed: kept is 42, not 0")
    stdout, stderr = stream(outputs, "stdout"), stream(outputs, "stderr")
    assert "not reached" not in stdout, f"the cell went on after the failed check: {stdout}"
    assert "lstm_support::Error: " not in stdout, f"the marker line was shown: {stdout}"
    assert "kept is 42" not in stderr, f"evcxr's copy of the message was shown: {stderr}"
    print(f"ok: a failed check: {reply['ename']}: {reply['evalue']}", flush=True)

    reply, outputs = kernel.run_cell('println!("still {kept}");')
    assert reply["status"] == "ok" and stream(outputs, "stdout") == "still 42\n", (reply, outputs)
    assert not stream(outputs, "stderr") and not errors(outputs), f"the failed cell's error spilled over: {outputs}"
    reply, outputs = kernel.run_cell('println!("{lost}");')
    assert reply["status"] == "error", f"the failed cell's own variable survived: {outputs}"
    print("ok: the next cell sees the variables defined before the failed one, not its own", flush=True)

    reply, outputs = kernel.run_cell(UNFINISHED)
    assert_error(UNFINISHED, reply, outputs, "lstm_support::Error", "exercise not done yet: write the answer")
    print("ok: an unfinished exercise: its task as the error", flush=True)

    reply, outputs = kernel.run_cell(PARSE)
    assert_error(PARSE, reply, outputs, "Error", "invalid digit found in string")
    print(f"ok: another `?` error: {reply['ename']}: {reply['evalue']}", flush=True)

    reply, outputs = kernel.run_cell(COMPILE_ERROR)
    assert_error(COMPILE_ERROR, reply, outputs, "Error", "")
    assert "no_such_variable" in "\n".join(reply["traceback"]) + reply["evalue"], reply
    print("ok: a compile error's reply has ename, evalue and traceback", flush=True)

    first = kernel.kc.execute('println!("first");')
    second = kernel.kc.execute(FAILING)
    third = kernel.kc.execute('println!("third ran");')
    results = kernel.messages([first, second, third])
    assert results[first][0]["status"] == "ok", results[first]
    assert results[second][0]["status"] == "error", results[second]
    assert results[third][0]["status"] == "aborted", f"the cell after the error was not aborted: {results[third]}"
    assert "third ran" not in stream(results[third][1], "stdout"), results[third]
    reply, outputs = kernel.run_cell('println!("after {kept}");')
    assert reply["status"] == "ok" and stream(outputs, "stdout") == "after 42\n", (reply, outputs)
    print("ok: cells queued after a failed one are aborted (Run All stops); later ones run", flush=True)

    reply, outputs = kernel.run_cell(PANIC)
    error = assert_error(PANIC, reply, outputs, "panic", "index out of bounds")
    reply, outputs = kernel.run_cell('println!("alive with {kept}");')
    assert reply["status"] == "ok" and stream(outputs, "stdout") == "alive with 42\n", (reply, outputs)
    print(f"ok: a panic: {error['ename']}: {error['evalue']}; the next cell still sees the variables", flush=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kernel-errors-runs-") as runs:
        return run_kernel_test(quick_env(Path(runs)), errors_are_jupyter_errors)


if __name__ == "__main__":
    sys.exit(main())
