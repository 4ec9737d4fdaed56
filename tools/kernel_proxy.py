"""The `rust-lstm` kernel's front: sits between Jupyter and evcxr_jupyter, forwards every message,
and makes a cell that failed at run time a Jupyter error.

evcxr 0.22 prints an error returned by `?` (and a panic it caught) on the cell's stderr and
reports the cell as successful: no `error` output, an `execute_reply` with status "ok". So
nbgrader gives a failed check its points, JupyterLab's "Run All" goes on, and nbclient cannot
tell. The error replies evcxr does send (compile errors, an interrupt) lack the `ename`,
`evalue` and `traceback` the protocol requires, which nbclient and nbgrader read.

`tools/evcxr-kernel` starts this script with the connection file Jupyter gave it; the script
starts evcxr_jupyter on ports of its own and, for every execute request:

- forwards one execute request at a time to evcxr and keeps the others queued, so that after
  an error it can abort the queued ones, as ipykernel does when `stop_on_error` is set (the
  default): "Run All" stops at the failed cell;
- holds evcxr's reply and its final `idle` status until the cell's output has come (evcxr
  forwards stderr on its own schedule: a short quiet period after `idle`), then decides:

  1. evcxr's own error (compile error, interrupt): the reply gets the `ename`, `evalue` and
     `traceback` of the error message evcxr sent;
  2. a line `lstm_support::Error: <message>` on stdout (what `lstm_support::exercise` prints
     for a failed check or an unfinished exercise; stdout arrives with the cell): ename
     "lstm_support::Error", evalue the message; the marker line is not shown, and evcxr's copy
     of the message on stderr is awaited (else evcxr could send it under the next cell) and
     dropped (the cell's stderr is held 0.1 s for that: the copy often comes first);
  3. a panic on stderr (`thread '...' panicked at`): ename "panic";
  4. any other text on stderr: an error returned by `?`, whose `Display` evcxr printed there;
     ename "Error", evalue the text. (Nothing else in these notebooks writes to stderr, and
     nbgrader's autograder scores a cell with stderr output 0 points anyway.)

  In cases 2-4 an `error` message goes out on iopub before `idle`, and the reply says
  "error". evcxr keeps the variables of earlier cells in every case (it drops only the failed
  cell's new ones), so the next cell still sees them.

Everything else (other shell requests, control with its interrupts and shutdown, stdin,
heartbeat) passes through unchanged. The script ends when evcxr ends, with its exit status.

    kernel_proxy.py CONNECTION_FILE EVCXR_JUPYTER [ARGS...]

runs `EVCXR_JUPYTER ARGS... --control_file <its own connection file>`.
"""
import contextlib
import datetime
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

import zmq

DELIMITER = b"<IDS|MSG>"
# What lstm_support::exercise prints on stdout in front of a failed check's or an unfinished
# exercise's message (lstm_support/src/exercise.rs, FAILED_LINE).
CRATE_ERROR_LINE = "lstm_support::Error: "
CRATE_ENAME = "lstm_support::Error"
# "thread '<unnamed>' (28783) panicked at src/lib.rs:111:21:", then the message, then a
# backtrace or a note about one.
PANIC = re.compile(r"^thread '[^']*'[^\n]*? panicked at [^\n]*\n?", re.MULTILINE)
PANIC_END = re.compile(r"^(stack backtrace:|note: )", re.MULTILINE)
# How long the cell's output may stay quiet after evcxr's `idle` before the cell is decided,
# and the longest wait after the reply: stderr lines come a few milliseconds late.
QUIET_SECONDS = 0.2
MOST_SECONDS = 2.0
# How long a stderr line of the running cell is held before it is passed on.
STDERR_HOLD_SECONDS = 0.1


def free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


class Message:
    """One Jupyter wire message: routing frames, then header, parent header, metadata, content
    (JSON, decoded on demand) and buffers."""

    def __init__(self, frames: list[bytes]):
        at = frames.index(DELIMITER)
        self.idents = frames[:at]
        self.parts = frames[at + 2:at + 6]
        self.buffers = frames[at + 6:]
        self.frames = frames
        self._header = self._parent = None

    @property
    def header(self) -> dict:
        if self._header is None:
            self._header = json.loads(self.parts[0])
        return self._header

    @property
    def parent(self) -> dict:
        if self._parent is None:
            self._parent = json.loads(self.parts[1])
        return self._parent

    @property
    def msg_type(self) -> str:
        return self.header.get("msg_type", "")

    @property
    def parent_id(self):
        return self.parent.get("msg_id")

    def content(self) -> dict:
        return json.loads(self.parts[3])


class Signer:
    def __init__(self, key: bytes, scheme: str):
        self.key = key
        self.digest = getattr(hashlib, scheme.split("-", 1)[1]) if key else None

    def frames(self, idents, header: bytes, parent: bytes, metadata: bytes, content: bytes, buffers=()) -> list[bytes]:
        signature = b""
        if self.key:
            mac = hmac.new(self.key, digestmod=self.digest)
            for part in (header, parent, metadata, content):
                mac.update(part)
            signature = mac.hexdigest().encode()
        return [*idents, DELIMITER, signature, header, parent, metadata, content, *buffers]

    def replace_content(self, message: Message, content: dict) -> list[bytes]:
        header, parent, metadata, _ = message.parts
        return self.frames(message.idents, header, parent, metadata, json.dumps(content).encode(), message.buffers)

    def new(self, idents, msg_type: str, parent: bytes, content: dict, session: str, metadata=None) -> list[bytes]:
        header = {"msg_id": uuid.uuid4().hex, "session": session, "username": "kernel", "date": now_iso(),
                  "msg_type": msg_type, "version": "5.3"}
        return self.frames(idents, json.dumps(header).encode(), parent,
                           json.dumps(metadata or {}).encode(), json.dumps(content).encode())


class Cell:
    """An execute request forwarded to evcxr, and what it has produced so far."""

    def __init__(self, request: Message):
        self.request = request
        content = request.content()
        self.msg_id = request.header["msg_id"]
        self.stop_on_error = content.get("stop_on_error", True) and not content.get("silent", False)
        self.reply: Message | None = None
        self.replied_at = 0.0
        self.idle: list[bytes] | None = None
        self.last_output = time.monotonic()
        self.kernel_error: dict | None = None  # the error message evcxr sent
        self.crate_error: str | None = None  # the message after CRATE_ERROR_LINE
        self.stderr = ""
        self.stderr_all = ""  # with the copies of a crate error that were dropped
        # Stderr messages not yet passed on: (arrival, stripped text, frames).
        self.held: list[tuple[float, str, list[bytes]]] = []

    def copy_seen(self) -> bool:
        """Whether evcxr's stderr copy of the crate error has come (it prints every error
        returned by `?` there, and it can come after the marker; the cell waits for it, so
        that it is not sent under the next cell)."""
        return self.crate_error is not None and " ".join(self.crate_error.split()) in " ".join(self.stderr_all.split())

    def error(self) -> dict | None:
        """The cell's error as (ename, evalue, traceback), or None when it succeeded."""
        if self.reply is not None and self.reply.content().get("status") == "error":
            if self.kernel_error is not None:
                return self.kernel_error
            return {"ename": "Error", "evalue": "the kernel reported an error", "traceback": []}
        if self.crate_error is not None:
            return described(CRATE_ENAME, self.crate_error)
        text = self.stderr.strip()
        if not text:
            return None
        panic = PANIC.search(text)
        if panic:
            message = PANIC_END.split(text[panic.end():])[0].strip() or text
            return {"ename": "panic", "evalue": message, "traceback": text.splitlines()}
        return described("Error", text)


def described(ename: str, evalue: str) -> dict:
    return {"ename": ename, "evalue": evalue, "traceback": f"{ename}: {evalue}".splitlines()}


class Proxy:
    def __init__(self, connection: dict, inner: dict, inner_file: str):
        self.inner_file: str | None = inner_file
        key = connection.get("key", "").encode()
        self.signer = Signer(key, connection.get("signature_scheme", "hmac-sha256"))
        self.session = uuid.uuid4().hex
        self.context = zmq.Context()
        outer = lambda name: f"{connection['transport']}://{connection['ip']}:{connection[name + '_port']}"  # noqa: E731
        evcxr = lambda name: f"{inner['transport']}://{inner['ip']}:{inner[name + '_port']}"  # noqa: E731
        identity = f"proxy-{self.session}".encode()
        self.j_shell = self.bound(zmq.ROUTER, outer("shell"))
        self.j_control = self.bound(zmq.ROUTER, outer("control"))
        self.j_stdin = self.bound(zmq.ROUTER, outer("stdin"))
        self.j_iopub = self.bound(zmq.PUB, outer("iopub"))
        self.j_hb = self.bound(zmq.REP, outer("hb"))
        # evcxr answers stdin requests to the identity of the shell request: the same here.
        self.e_shell = self.connected(zmq.DEALER, evcxr("shell"), identity)
        self.e_stdin = self.connected(zmq.DEALER, evcxr("stdin"), identity)
        self.e_control = self.connected(zmq.DEALER, evcxr("control"))
        self.e_iopub = self.connected(zmq.SUB, evcxr("iopub"))
        self.e_iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.poller = zmq.Poller()
        for sock in (self.j_shell, self.j_control, self.j_stdin, self.j_hb,
                     self.e_shell, self.e_stdin, self.e_control, self.e_iopub):
            self.poller.register(sock, zmq.POLLIN)
        self.queue: list[Message] = []
        self.cell: Cell | None = None
        # The last decided cell's crate error, to drop evcxr's late stderr copy of it.
        self.decided: tuple[str, str] | None = None

    def bound(self, kind, address):
        sock = self.context.socket(kind)
        sock.linger = 1000
        sock.bind(address)
        return sock

    def connected(self, kind, address, identity=None):
        sock = self.context.socket(kind)
        sock.linger = 1000
        if identity:
            sock.identity = identity
        sock.connect(address)
        return sock

    def run(self, child: subprocess.Popen) -> int:
        handlers = {
            self.j_shell: self.from_jupyter_shell,
            self.j_control: self.e_control.send_multipart,
            self.j_stdin: self.e_stdin.send_multipart,
            self.j_hb: self.j_hb.send_multipart,
            self.e_shell: self.from_evcxr_shell,
            self.e_stdin: self.j_stdin.send_multipart,
            self.e_control: self.j_control.send_multipart,
            self.e_iopub: self.from_evcxr_iopub,
        }
        # Where a message goes unchanged when its handler fails (a message it cannot read):
        # the proxy never drops one, and never stops for one.
        unchanged = {**handlers, self.j_shell: self.e_shell.send_multipart,
                     self.e_shell: self.j_shell.send_multipart, self.e_iopub: self.j_iopub.send_multipart}

        def pump(timeout_ms: int) -> bool:
            ready = self.poller.poll(timeout_ms)
            for sock, _ in ready:
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    try:
                        handlers[sock](frames)
                    except Exception:  # noqa: BLE001 (reported, then passed on as it came)
                        traceback.print_exc()
                        unchanged[sock](frames)
            self.decide_if_done()
            return bool(ready)

        while child.poll() is None:
            pump(50)
        # What evcxr sent before it ended (the reply to a shutdown request) still goes out.
        deadline = time.monotonic() + 1
        while pump(50) and time.monotonic() < deadline:
            pass
        return child.returncode

    # Shell: execute requests one at a time; the rest straight through.
    def from_jupyter_shell(self, frames):
        message = Message(frames)
        if message.msg_type != "execute_request":
            self.e_shell.send_multipart(frames)
        elif self.cell is None:
            self.start(message)
        else:
            self.queue.append(message)

    def start(self, request: Message):
        self.cell = Cell(request)
        self.e_shell.send_multipart(request.frames)

    def evcxr_is_up(self):
        """evcxr has read its connection file (it answers): the file, with its key, goes."""
        if self.inner_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.inner_file)
            self.inner_file = None

    def from_evcxr_shell(self, frames):
        self.evcxr_is_up()
        message = Message(frames)
        cell = self.cell
        if cell is not None and message.msg_type == "execute_reply" and message.parent_id == cell.msg_id:
            cell.reply, cell.replied_at = message, time.monotonic()
        else:
            self.j_shell.send_multipart(frames)

    # IOPub: watch the running cell's output.
    def from_evcxr_iopub(self, frames):
        self.evcxr_is_up()
        message = Message(frames)
        cell = self.cell
        if cell is None or message.parent_id != cell.msg_id:
            if not self.late_copy(message):
                self.j_iopub.send_multipart(frames)
            return
        cell.last_output = time.monotonic()
        kind = message.msg_type
        if kind == "status" and message.content().get("execution_state") == "idle":
            cell.idle = frames
            return
        if kind == "error" and cell.kernel_error is None:
            # The first of evcxr's errors (a cell can have several compile errors).
            cell.kernel_error = {k: message.content().get(k, "") for k in ("ename", "evalue", "traceback")}
        elif kind == "stream":
            content = message.content()
            if content.get("name") == "stdout":
                lines = content["text"].splitlines(keepends=True)
                kept = []
                for line in lines:
                    if line.startswith(CRATE_ERROR_LINE):
                        cell.crate_error = line[len(CRATE_ERROR_LINE):].rstrip("\n")
                        cell.held = [h for h in cell.held if h[1] != cell.crate_error]
                    else:
                        kept.append(line)
                if len(kept) != len(lines):
                    if not kept:
                        return
                    frames = self.signer.replace_content(message, {**content, "text": "".join(kept)})
            elif content.get("name") == "stderr":
                text = content["text"].strip()
                if self.decided is not None and text == self.decided[1]:
                    return  # the previous cell's copy, which evcxr sent under this cell
                cell.stderr_all += content["text"]
                if cell.crate_error is not None and text == cell.crate_error:
                    return
                cell.stderr += content["text"]
                # Held a moment: evcxr's copy of a crate error often comes before the marker.
                cell.held.append((time.monotonic(), content["text"].strip(), frames))
                return
        self.j_iopub.send_multipart(frames)

    def late_copy(self, message: Message) -> bool:
        """Whether `message` is evcxr's stderr copy of the last decided cell's crate error."""
        if self.decided is None or message.msg_type != "stream" or message.parent_id != self.decided[0]:
            return False
        content = message.content()
        return content.get("name") == "stderr" and content.get("text", "").strip() == self.decided[1]

    def release_stderr(self, cell: Cell, before: float) -> None:
        """Passes on the held stderr messages that arrived before `before`."""
        while cell.held and cell.held[0][0] < before:
            self.j_iopub.send_multipart(cell.held.pop(0)[2])

    def decide_if_done(self):
        cell = self.cell
        if cell is None:
            return
        now = time.monotonic()
        self.release_stderr(cell, now - STDERR_HOLD_SECONDS)
        if cell.reply is None:
            return
        failed_in_kernel = cell.reply.content().get("status") == "error"
        if cell.idle is None:
            settled = False
        elif failed_in_kernel:
            settled = True
        elif cell.crate_error is not None:
            settled = cell.copy_seen()
        else:
            settled = now - cell.last_output >= QUIET_SECONDS
        if not settled and now - cell.replied_at < MOST_SECONDS:
            return
        self.release_stderr(cell, float("inf"))
        error = cell.error()
        reply = cell.reply.frames
        if error is not None:
            if not failed_in_kernel:
                self.j_iopub.send_multipart([b"error"] + self.signer.new(
                    [], "error", cell.request.parts[0], error, self.session))
            content = {**cell.reply.content(), "status": "error", **error}
            reply = self.signer.replace_content(cell.reply, content)
        self.j_shell.send_multipart(reply)
        if cell.idle is not None:
            self.j_iopub.send_multipart(cell.idle)
        self.decided = (cell.msg_id, cell.crate_error) if cell.crate_error is not None else None
        self.cell = None
        if error is not None and cell.stop_on_error:
            for request in self.queue:
                self.abort(request)
            self.queue.clear()
        if self.queue:
            self.start(self.queue.pop(0))

    def abort(self, request: Message):
        """Answers a queued execute request without running it, as ipykernel does after an
        error: busy, a reply with status "aborted", idle."""
        parent = request.parts[0]
        for state in ("busy", None, "idle"):
            if state is None:
                self.j_shell.send_multipart(self.signer.new(
                    request.idents, "execute_reply", parent, {"status": "aborted"}, self.session,
                    metadata={"status": "aborted"}))
            else:
                self.j_iopub.send_multipart([b"status"] + self.signer.new(
                    [], "status", parent, {"execution_state": state}, self.session))


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    connection_file, command = sys.argv[1], sys.argv[2:]
    with open(connection_file) as f:
        connection = json.load(f)
    ip = "127.0.0.1"
    inner = {**connection, "ip": ip, "transport": "tcp",
             **{f"{name}_port": free_port(ip) for name in ("shell", "iopub", "stdin", "control", "hb")}}
    fd, inner_file = tempfile.mkstemp(prefix="evcxr-inner-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(inner, f)
    # Interrupts come as control messages (the kernelspec's interrupt_mode); a SIGINT to the
    # process group must not end the proxy. SIGTERM ends evcxr too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proxy = Proxy(connection, inner, inner_file)
    # close_fds=False: evcxr keeps the build slot's lock (fd 9 of tools/evcxr-kernel).
    child = subprocess.Popen([*command, "--control_file", inner_file], close_fds=False)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        return proxy.run(child)
    finally:
        if child.poll() is None:
            child.terminate()
        proxy.evcxr_is_up()
        proxy.context.destroy(linger=1000)


if __name__ == "__main__":
    sys.exit(main())
