# The code-interpreter server of e2b-local's `code-interpreter-v1` template: runs inside the sandbox on
# port 49999 and speaks the HTTP protocol of E2B's code interpreter (what @e2b/code-interpreter 2.8 sends):
# POST /execute streams JSON lines; /contexts creates, lists, restarts and removes contexts. Python
# contexts are ipykernel kernels spoken to over ZMQ (jupyter_client's Session); JavaScript contexts are
# node processes running node-runner.js; bash contexts are long-lived bash processes.
# Standard library + the Debian packages python3-jupyter-client / python3-ipykernel / python3-zmq.
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import zmq
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

PORT = 49999
KEEPALIVE_S = 5.0  # as E2B's server: a line now and then so a silent dead client is noticed
KERNEL_START_S = 120.0
HOME = "/home/user"
LANGUAGES = {"python": "python", "": "python", "javascript": "javascript", "js": "javascript",
             "node": "javascript", "nodejs": "javascript", "typescript": "javascript", "ts": "javascript",
             "bash": "bash", "sh": "bash", "shell": "bash"}

RUNTIME = tempfile.mkdtemp(prefix="e2b-interpreter-")  # connection files, the node runner
BASE_ENV = dict(os.environ)
NODE_RUNNER = os.path.join(RUNTIME, "node-runner.js")


def now_iso():
    return datetime.now(timezone.utc).isoformat()


class ContextError(Exception):
    pass


def result_message(data, is_main):
    # MIME bundle -> the result shape the SDK reads (text, html, png, ... and the rest under `extra`)
    data = dict(data)
    out = {"type": "result", "is_main_result": is_main}
    text = data.pop("text/plain", None)
    if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]  # E2B shows a string result without its repr quotes
    for key, mime in (("html", "text/html"), ("markdown", "text/markdown"), ("svg", "image/svg+xml"),
                      ("png", "image/png"), ("jpeg", "image/jpeg"), ("pdf", "application/pdf"),
                      ("latex", "text/latex"), ("json", "application/json"),
                      ("javascript", "application/javascript"), ("data", "e2b/data"), ("chart", "e2b/chart")):
        v = data.pop(mime, None)
        if v is not None:
            out[key] = v
    if text is not None:
        out["text"] = text
    out["extra"] = data
    return out


class Context:
    """One execution environment; executions in it run one at a time (self.lock)."""

    def __init__(self, language, cwd, env_vars):
        self.id = str(uuid.uuid4())
        self.language = language
        self.cwd = cwd
        self.env = dict(BASE_ENV)
        self.env.update(env_vars or {})
        self.lock = threading.Lock()

    def describe(self):
        return {"id": self.id, "language": self.language, "cwd": self.cwd}

    def interrupt(self):
        # every context runs its cells in one process group (self.proc): SIGINT stops the cell, not it
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except OSError:
            pass


class PythonContext(Context):
    """An ipykernel kernel, spoken to directly over ZMQ (no Jupyter server in between)."""

    def start(self):
        self.session = Session(key=uuid.uuid4().hex.encode(), username="e2b")
        self.conn_file = os.path.join(RUNTIME, "kernel-%s.json" % self.id)
        write_connection_file(self.conn_file, ip="127.0.0.1", key=self.session.key)
        with open(self.conn_file) as f:
            self.info = json.load(f)
        env = dict(self.env)
        env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", self.conn_file,
             "--HistoryManager.enabled=False", "--IPKernelApp.quiet=True"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=self.cwd, env=env, start_new_session=True)
        ctx = zmq.Context.instance()
        url = "tcp://127.0.0.1:%d"
        self.shell = ctx.socket(zmq.DEALER)
        self.shell.linger = 0
        self.shell.connect(url % self.info["shell_port"])
        self.iopub = ctx.socket(zmq.SUB)
        self.iopub.linger = 0
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(url % self.info["iopub_port"])
        self.control = ctx.socket(zmq.DEALER)
        self.control.linger = 0
        self.control.connect(url % self.info["control_port"])
        self.wait_ready()

    def recv(self, sock):
        _, parts = self.session.feed_identities(sock.recv_multipart(zmq.NOBLOCK))
        return self.session.deserialize(parts)

    def wait_ready(self):
        # A kernel_info request is answered on shell once the kernel runs, and its busy/idle status on
        # iopub shows that our subscription is live (messages published before it would be lost).
        deadline = time.monotonic() + KERNEL_START_S
        poller = zmq.Poller()
        poller.register(self.shell, zmq.POLLIN)
        poller.register(self.iopub, zmq.POLLIN)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ContextError("the Python kernel exited during start (code %s)" % self.proc.returncode)
            msg_id = self.session.send(self.shell, "kernel_info_request", {})["header"]["msg_id"]
            until = time.monotonic() + 0.5
            while time.monotonic() < until:
                if not poller.poll(100):
                    continue
                while self.iopub.poll(0):
                    m = self.recv(self.iopub)
                    if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status":
                        self.drain(self.shell)
                        return
                self.drain(self.shell)
        raise ContextError("the Python kernel did not start in time")

    def drain(self, sock):
        while sock.poll(0):
            try:
                self.recv(sock)
            except zmq.Again:
                return

    def run(self, code, silent, emit, watch=None):
        """Run code; emit(message) gets the SDK's messages. Returns when the kernel is idle again."""
        self.drain(self.shell)
        self.drain(self.iopub)
        content = {"code": code, "silent": silent, "store_history": not silent, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        msg_id = self.session.send(self.shell, "execute_request", content)["header"]["msg_id"]
        errored = False
        last_sent = time.monotonic()
        # the client's socket is polled with the kernel's: no watcher thread on the warm path
        poller = zmq.Poller()
        poller.register(self.iopub, zmq.POLLIN)
        if watch is not None:
            poller.register(watch.fd, zmq.POLLIN)
        left_at = None
        while True:
            events = dict(poller.poll(200))
            if watch is not None and watch.fd in events:
                poller.unregister(watch.fd)
                if watch.left():
                    left_at = time.monotonic()
                    self.interrupt()
            elif left_at is not None and time.monotonic() - left_at >= 1.0:
                # A SIGINT that lands before the kernel runs the cell is lost (ipykernel ignores it
                # while idle): repeat it until the cell ends, or it would run on unobserved.
                left_at = time.monotonic()
                self.interrupt()
            if self.iopub not in events:
                if self.proc.poll() is not None:
                    emit({"type": "error", "name": "KernelDied", "value": "the kernel process exited",
                          "traceback": ""})
                    return
                if time.monotonic() - last_sent >= KEEPALIVE_S:
                    emit({"type": "keepalive"})
                    last_sent = time.monotonic()
                continue
            try:
                m = self.recv(self.iopub)
            except zmq.Again:
                continue
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            t = m["msg_type"]
            c = m["content"]
            if t == "status" and c.get("execution_state") == "idle":
                return
            if t == "stream":
                emit({"type": "stdout" if c.get("name") == "stdout" else "stderr", "text": c.get("text", ""),
                      "timestamp": now_iso()})
            elif t == "execute_input":
                emit({"type": "number_of_executions", "execution_count": c.get("execution_count")})
            elif t == "execute_result":
                emit(result_message(c.get("data", {}), True))
            elif t == "display_data":
                emit(result_message(c.get("data", {}), False))
            elif t == "error" and not errored:
                errored = True
                emit({"type": "error", "name": c.get("ename", ""), "value": c.get("evalue", ""),
                      "traceback": "\n".join(c.get("traceback", []))})
            else:
                continue
            last_sent = time.monotonic()

    def execute(self, code, env_vars, emit, watch):
        if env_vars:
            self.run("__import__('os').environ.update(%r)" % (env_vars,), True, lambda m: None)
        try:
            self.run(code, False, emit, watch)
        finally:
            if env_vars:
                restore = {k: self.env.get(k) for k in env_vars}
                self.run("[__import__('os').environ.pop(k, None) if v is None else "
                         "__import__('os').environ.__setitem__(k, v) for k, v in %r.items()]" % (restore,),
                         True, lambda m: None)

    def stop(self):
        # also after a start that failed half-way: only what exists is shut down
        if getattr(self, "control", None) is not None:
            try:
                self.session.send(self.control, "shutdown_request", {"restart": False})
            except zmq.ZMQError:
                pass
        proc = getattr(self, "proc", None)
        if proc is not None:
            try:
                proc.wait(1)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
        for name in ("shell", "iopub", "control"):
            if getattr(self, name, None) is not None:
                getattr(self, name).close(0)
                setattr(self, name, None)
        try:
            os.unlink(self.conn_file)
        except (AttributeError, OSError):
            pass


class PipeContext(Context):
    """A child reading cells on stdin and reporting on an event pipe (its fd number in argv): node, bash."""

    def argv(self):
        raise NotImplementedError

    def start(self):
        ev_r, ev_w = os.pipe()
        # the event pipe's fd number goes in argv: the child writes its protocol there, not to fd 1
        self.proc = subprocess.Popen(self.argv() + [str(ev_w)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=self.cwd, env=self.env, start_new_session=True,
                                     pass_fds=(ev_w,))
        os.close(ev_w)
        self.events = os.fdopen(ev_r, "rb", buffering=0)
        self.q = queue.Queue()
        self.count = 0
        for f, kind in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr")):
            threading.Thread(target=self.pump_output, args=(f, kind), daemon=True).start()
        threading.Thread(target=self.pump_events, daemon=True).start()
        self.wait_ready()

    def pump_output(self, f, kind):
        # stray output written straight to fd 1/2 (child processes, native code)
        while True:
            chunk = os.read(f.fileno(), 65536)
            if not chunk:
                return
            self.q.put({"type": kind, "text": chunk.decode("utf-8", "replace"), "timestamp": now_iso()})

    def pump_events(self):
        buf = b""
        while True:
            chunk = os.read(self.events.fileno(), 65536)
            if not chunk:
                self.q.put({"t": "exit"})
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    self.q.put(json.loads(line))
                except ValueError:
                    pass

    def wait_ready(self):
        deadline = time.monotonic() + KERNEL_START_S
        while time.monotonic() < deadline:
            try:
                ev = self.q.get(timeout=0.5)
            except queue.Empty:
                continue
            if ev.get("t") == "ready":
                return
            if ev.get("t") == "exit":
                raise ContextError("the %s process exited during start" % self.language)
        raise ContextError("the %s process did not start in time" % self.language)

    def send(self, obj):
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def execute(self, code, env_vars, emit, watch):
        stop_r, stop_w = os.pipe()
        watcher = threading.Thread(target=watch_in_thread, args=(watch, stop_r, self), daemon=True)
        watcher.start()
        try:
            self.run_cell(code, env_vars, emit)
        finally:
            os.write(stop_w, b"x")
            watcher.join()
            os.close(stop_r)
            os.close(stop_w)

    def run_cell(self, code, env_vars, emit):
        # leftovers from earlier cells (background output) are not this cell's
        while True:
            try:
                self.q.get_nowait()
            except queue.Empty:
                break
        self.count += 1
        cell = uuid.uuid4().hex
        try:
            self.send({"cell": cell, "code": code, "env": env_vars or {}, "count": self.count})
        except OSError:
            emit({"type": "error", "name": "ContextDied", "value": "the %s process is gone" % self.language,
                  "traceback": ""})
            return
        emit({"type": "number_of_executions", "execution_count": self.count})
        while True:
            try:
                ev = self.q.get(timeout=KEEPALIVE_S)
            except queue.Empty:
                emit({"type": "keepalive"})
                continue
            t = ev.get("t")
            if t == "exit":
                emit({"type": "error", "name": "ContextDied", "value": "the %s process exited" % self.language,
                      "traceback": ""})
                return
            if t == "done" and ev.get("cell") == cell:
                self.drain_output(emit)
                if ev.get("rc"):
                    emit({"type": "error", "name": "ExitCode", "value": "exit status %d" % ev["rc"],
                          "traceback": ""})
                return
            if t is None:
                emit(ev)  # stray stdout/stderr
            elif ev.get("cell") == cell and "msg" in ev:
                emit(ev["msg"])

    def drain_output(self, emit):
        # the child wrote its fd 1/2 output before reporting "done": take what the pumps still hold
        time.sleep(0)
        while True:
            try:
                ev = self.q.get_nowait()
            except queue.Empty:
                return
            if ev.get("t") is None:
                emit(ev)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()


class NodeContext(PipeContext):
    def argv(self):
        return [shutil.which("node", path=self.env.get("PATH")) or "node", NODE_RUNNER]


BASH_LOOP = r"""
__e2b_fd=$1; shift
printf '{"t":"ready"}\n' >&"$__e2b_fd"
trap ':' INT
while IFS= read -r __e2b_line; do
  __e2b_cell=${__e2b_line%% *}
  source "${__e2b_line#* }" </dev/null
  __e2b_rc=$?
  rm -f "${__e2b_line#* }"
  printf '{"t":"done","cell":"%s","rc":%d}\n' "$__e2b_cell" "$__e2b_rc" >&"$__e2b_fd"
done
"""


class BashContext(PipeContext):
    """bash reading `<cell> <file>` lines: each cell is sourced, so variables and cwd persist."""

    def argv(self):
        return ["/bin/bash", "--noprofile", "--norc", "-c", BASH_LOOP, "bash"]

    def send(self, obj):
        path = os.path.join(RUNTIME, "cell-%s.sh" % obj["cell"])
        with open(path, "w") as f:
            for k, v in obj["env"].items():
                f.write("export %s=%s\n" % (k, shell_quote(v)))
            f.write(obj["code"] + "\n")
        self.proc.stdin.write(("%s %s\n" % (obj["cell"], path)).encode())
        self.proc.stdin.flush()



def shell_quote(s):
    return "'" + s.replace("'", "'\"'\"'") + "'"


class Contexts:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_id = {}
        self.default = {}  # language -> context id (the context `language=` executions use)

    def create(self, language, cwd, env_vars=None, default=False):
        lang = LANGUAGES.get((language or "").strip().lower())
        if lang is None:
            raise ContextError("unsupported language %r (python, javascript, bash)" % language)
        if not os.path.isdir(cwd):
            raise ContextError("cwd %r does not exist" % cwd)
        cls = {"python": PythonContext, "javascript": NodeContext, "bash": BashContext}[lang]
        ctx = cls(lang, cwd, env_vars)
        try:
            ctx.start()
        except BaseException:
            # a kernel that did not come up must not linger
            try:
                ctx.stop()
            except Exception:  # noqa: BLE001
                pass
            raise
        with self.lock:
            self.by_id[ctx.id] = ctx
            if default:
                self.default[lang] = ctx.id
        return ctx

    def get(self, cid):
        with self.lock:
            return self.by_id.get(cid)

    def default_for(self, language):
        lang = LANGUAGES.get((language or "").strip().lower())
        if lang is None:
            raise ContextError("unsupported language %r (python, javascript, bash)" % language)
        with self.lock:
            ctx = self.by_id.get(self.default.get(lang, ""))
        return ctx or self.create(lang, HOME, default=True)

    def remove(self, cid):
        with self.lock:
            ctx = self.by_id.pop(cid, None)
            for k, v in list(self.default.items()):
                if v == cid:
                    del self.default[k]
        if ctx:
            ctx.stop()
        return ctx is not None

    def restart(self, cid):
        ctx = self.get(cid)
        if ctx is None:
            return False
        ctx.interrupt()
        with ctx.lock:
            ctx.stop()
            ctx.start()
        return True

    def list(self):
        with self.lock:
            return [c.describe() for c in self.by_id.values()]


CONTEXTS = Contexts()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2b-local-interpreter"

    def setup(self):
        super().setup()
        # each JSON line is written as it comes: without this, Nagle + delayed ACK hold lines ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self.read_chunked()
        else:
            raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        v = json.loads(raw)
        if not isinstance(v, dict):
            raise ValueError("body must be a JSON object")
        return v

    def read_chunked(self):
        out = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    def reply(self, status, body, ctype="application/json"):
        data = (json.dumps(body) if ctype == "application/json" else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def text(self, status, msg):
        self.reply(status, msg, "text/plain; charset=utf-8")

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/health":
            self.reply(200, "OK")
        elif path == "/contexts":
            self.reply(200, CONTEXTS.list())
        else:
            self.text(404, "Not Found")

    def do_DELETE(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) == 2 and parts[0] == "contexts":
            if CONTEXTS.remove(parts[1]):
                self.reply(200, None)
            else:
                self.text(404, "Context %s not found" % parts[1])
        else:
            self.text(404, "Not Found")

    def do_POST(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        try:
            body = self.body_json()
        except ValueError as e:
            self.text(400, "invalid JSON body: %s" % e)
            return
        if parts == ["execute"]:
            self.execute(body)
        elif parts == ["contexts"]:
            env_vars = body.get("env_vars") or {}
            try:
                ctx = CONTEXTS.create(body.get("language") or "python", body.get("cwd") or HOME, env_vars)
            except ContextError as e:
                self.text(500, str(e))
                return
            self.reply(200, ctx.describe())
        elif len(parts) == 3 and parts[0] == "contexts" and parts[2] == "restart":
            try:
                ok = CONTEXTS.restart(parts[1])
            except ContextError as e:
                self.text(500, "Failed to restart context %s: %s" % (parts[1], e))
                return
            if ok:
                self.reply(200, None)
            else:
                self.text(404, "Context %s not found" % parts[1])
        else:
            self.text(404, "Not Found")

    def execute(self, body):
        code = body.get("code")
        if not isinstance(code, str):
            self.text(400, "code must be a string")
            return
        if body.get("context_id") and body.get("language"):
            self.text(400, "Only one of context_id or language can be provided")
            return
        env_vars = body.get("env_vars") or {}
        if not isinstance(env_vars, dict) or not all(isinstance(v, str) for v in env_vars.values()):
            self.text(400, "env_vars must map names to strings")
            return
        try:
            if body.get("context_id"):
                ctx = CONTEXTS.get(body["context_id"])
                if ctx is None:
                    self.text(404, "Context %s not found" % body["context_id"])
                    return
            else:
                ctx = CONTEXTS.default_for(body.get("language") or "python")
        except ContextError as e:
            self.text(500, str(e))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        gone = threading.Event()

        def emit(msg):
            if gone.is_set():
                return
            line = (json.dumps(msg) + "\n").encode()
            try:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            except OSError:
                gone.set()

        with ctx.lock:
            ctx.execute(code, env_vars, emit, ClientWatch(self.connection, gone))
        emit({"type": "end_of_execution"})
        if not gone.is_set():
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                pass
        else:
            self.close_connection = True


class ClientWatch:
    """Notices the client of an execution going away. It never sends anything while it waits for the
    answer, so its socket turning readable means it closed (e.g. the SDK aborted at its timeout); then
    the cell is interrupted, as E2B does, so the context keeps its state and is free again."""

    def __init__(self, conn, gone):
        self.conn = conn
        self.fd = conn.fileno()
        self.gone = gone

    def left(self):
        try:
            data = self.conn.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self.gone.set()
            return True
        return False


def watch_in_thread(watch, stop_fd, ctx):
    r, _, _ = select.select([watch.fd, stop_fd], [], [])
    if watch.fd in r and watch.left():
        ctx.interrupt()
        # repeated until the cell ends: one that lands before the cell runs is ignored
        while not select.select([stop_fd], [], [], 1.0)[0]:
            ctx.interrupt()


def main(node_runner_source):
    # started by templates.ts as `python3 -I -c <bootstrap>` with this file and node-runner.js on stdin
    with open(NODE_RUNNER, "w") as f:
        f.write(node_runner_source)
    # loopback only: e2b-local's port relay reaches it from inside the sandbox's network namespace
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    server.daemon_threads = True
    # the default Python context exists at start, warm (E2B also starts a default JavaScript one)
    CONTEXTS.create("python", HOME, default=True)
    sys.stdout.write("ready %d\n" % PORT)
    sys.stdout.flush()
    server.serve_forever()

