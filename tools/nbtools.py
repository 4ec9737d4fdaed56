"""What the notebook tools and their tests share: the project's paths, the kernel's name, the
text of a cell's outputs, atomic writes, the environment of a quick run, and a client for the
real `rust-lstm` kernel.

The scripts in tools/ import it directly; the tests in tools/tests/ put tools/ on sys.path
first. Only `Kernel` needs jupyter_client, which it imports when one starts.
"""
import os
import queue
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "rust-lstm"
# The first code cell of every notebook: the crate, one level up from notebooks/.
DEP_LINE = ':dep lstm_support = { path = "../lstm_support" }'
# Text a panic inside the crate (or libtorch's wrappers) prints: never what a student should see.
PANIC_MARKS = ("panicked", "tensor_generated.rs")


def write_atomically(path: Path, text: str) -> None:
    """Writes `text` to a temporary file beside `path`, then renames it: never a half-written
    file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def output_text(output, mimetypes=("text/plain", "text/html", "text/markdown")) -> str:
    """The text of one output of a notebook cell: a stream's text, a result's `mimetypes`, an
    error's traceback (or its value when it has none)."""
    if "text" in output:
        return "".join(output["text"])
    data = output.get("data", {})
    parts = [data.get(kind, "") for kind in mimetypes]
    parts += output.get("traceback", []) or [output.get("evalue", "")]
    return "".join("".join(p) if isinstance(p, list) else p for p in parts)


def quick_env(runs_dir: Path, base=None) -> dict:
    """The environment of a quick run (QUICK=1) keeping its runs in `runs_dir`, not in the
    notebooks' runs/."""
    return dict(os.environ if base is None else base, QUICK="1", LSTM_RUNS_DIR=str(runs_dir))


class Kernel:
    """The project's kernel, started as JupyterLab starts it (in notebooks/ unless `cwd` says
    otherwise), driven cell by cell through jupyter_client. Keeps a transcript of everything
    the cells printed, for a failure report."""

    def __init__(self, env: dict, cwd: Path = NOTEBOOKS, kernel_name: str = KERNEL):
        from jupyter_client.manager import start_new_kernel

        # A fresh evcxr kernel may compile for minutes before it answers.
        self.km, self.kc = start_new_kernel(kernel_name=kernel_name, cwd=str(cwd), env=env, startup_timeout=600)
        self.transcript: list[str] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def execute(self, code: str, timeout: float = 600, on_line=None, wait_for: str | None = None,
                linger: float = 10) -> tuple[str, str]:
        """Runs `code`; returns (status, everything the cell printed: stdout, stderr and its
        error as `ename: evalue`). The status is the reply's, or "error" when
        the kernel sent an error message. `on_line` sees each printed line as it arrives. evcxr
        forwards stderr on its own schedule: with `wait_for`, the cell's output is read for up
        to `linger` seconds more after it finished, until that text has come."""
        msg_id = self.kc.execute(code)
        printed = []
        failed = False
        deadline = time.monotonic() + timeout
        finished_at = None
        while True:
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"the cell did not finish in {timeout} s:\n{code}")
            if finished_at is not None and (wait_for is None or wait_for in "".join(printed)
                                            or now - finished_at > linger):
                break
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2 if finished_at else 1)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            text = ""
            if kind == "stream":
                text = content["text"]
            elif kind == "error":
                failed = True
                text = f"{content['ename']}: {content['evalue']}\n"
            elif kind in ("execute_result", "display_data"):
                text = content["data"].get("text/plain", "") + "\n"
            elif kind == "status" and content["execution_state"] == "idle":
                finished_at = time.monotonic()
            if text:
                printed.append(text)
                self.transcript.append(text)
                for line in text.splitlines():
                    if on_line:
                        on_line(line)
        while True:
            reply = self.kc.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        status = reply["content"]["status"]
        return ("error" if failed and status == "ok" else status), "".join(printed)

    def messages(self, msg_ids: list[str], timeout: float = 600) -> dict[str, tuple[dict, list]]:
        """For execute requests already sent: each one's reply content and its iopub messages
        as (type, content), in order, up to its idle status."""
        pending = set(msg_ids)
        replies, outputs = {}, {msg_id: [] for msg_id in msg_ids}
        deadline = time.monotonic() + timeout
        while pending or len(replies) < len(msg_ids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply or idle within {timeout} s for {sorted(pending)}")
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
                parent = msg["parent_header"].get("msg_id")
                if parent in outputs and parent in pending:
                    if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                        pending.discard(parent)
                    elif msg["msg_type"] != "status":
                        outputs[parent].append((msg["msg_type"], msg["content"]))
            except queue.Empty:
                pass
            try:
                reply = self.kc.get_shell_msg(timeout=0)
                if reply["parent_header"].get("msg_id") in outputs:
                    replies[reply["parent_header"]["msg_id"]] = reply["content"]
            except queue.Empty:
                pass
        return {msg_id: (replies[msg_id], outputs[msg_id]) for msg_id in msg_ids}

    def run_cell(self, code: str, timeout: float = 600) -> tuple[dict, list]:
        """Runs `code`; returns its reply content and its iopub messages (see `messages`)."""
        msg_id = self.kc.execute(code)
        return self.messages([msg_id], timeout)[msg_id]

    def run_all(self, cells: list[str], timeout: float = 600) -> str:
        """Runs `cells` in order; raises AssertionError at the first that fails. Returns what
        they printed."""
        out = []
        for code in cells:
            status, printed = self.execute(code, timeout=timeout)
            out.append(printed)
            if status != "ok":
                raise AssertionError(f"cell failed ({status}):\n{code}\n{printed}")
        return "".join(out)

    def interrupt(self) -> None:
        """The stop button: a Jupyter interrupt (evcxr kills the subprocess running cells)."""
        self.km.interrupt_kernel()

    def tail(self, chars: int = 4000) -> str:
        """The end of the transcript."""
        return "".join(self.transcript)[-chars:]

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def run_kernel_test(env: dict, test) -> int:
    """Runs `test(kernel)` in a fresh kernel started with `env`; an AssertionError or a
    TimeoutError is the test failing. Returns the exit status: 0, or 1 after printing why and
    the end of what the kernel printed."""
    kernel = Kernel(env)
    try:
        test(kernel)
        return 0
    except (AssertionError, TimeoutError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        print("--- kernel output so far:\n" + kernel.tail(), file=sys.stderr)
        return 1
    finally:
        kernel.shutdown()
