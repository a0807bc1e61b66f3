# e2b-local sandbox agent: the process that lives inside each sandbox (what envd is in E2B's VMs).
# It runs under bubblewrap/unshare in the sandbox's namespaces, spawns commands on request and
# relays their output, exit status, stdin and signals to the e2b-local server as JSON lines over its
# own stdin/stdout. Only the Python standard library is used; it is started as
#   python3 -I -S agent.py '<json limits>'
import base64
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import time

EXIT_GRACE_S = 0.05  # how long to keep draining pipes a background grandchild still holds open

sel = selectors.DefaultSelector()
out_fd = sys.stdout.fileno()
in_fd = sys.stdin.fileno()
procs = {}  # id -> Proc
pending_out = bytearray()


class Proc:
    __slots__ = ("id", "popen", "pidfd", "fds", "status", "exited_at", "stdin_fd")

    def __init__(self, id_, popen):
        self.id = id_
        self.popen = popen
        self.pidfd = -1
        self.fds = {}
        self.status = None
        self.exited_at = 0.0
        self.stdin_fd = -1


def emit(msg):
    data = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
    view = memoryview(data)
    while view:
        try:
            n = os.write(out_fd, view)
            view = view[n:]
        except BlockingIOError:
            sel_wait_writable()
        except BrokenPipeError:
            os._exit(0)


def sel_wait_writable():
    import select
    select.select([], [out_fd], [], 1.0)


def apply_limits(limits):
    for name, key in (("nproc", resource.RLIMIT_NPROC), ("fsize", resource.RLIMIT_FSIZE),
                      ("as", resource.RLIMIT_AS), ("nofile", resource.RLIMIT_NOFILE)):
        v = limits.get(name)
        if isinstance(v, int) and v > 0:
            try:
                resource.setrlimit(key, (v, v))
            except (ValueError, OSError):
                pass


def make_preexec(uid, gid):
    return None


def spawn(msg):
    id_ = msg["id"]
    uid = int(msg.get("uid", 1000))
    gid = int(msg.get("gid", uid))
    cwd = msg.get("cwd") or "/"
    if not os.path.isdir(cwd):
        emit({"t": "err", "id": id_, "code": "invalid_argument",
              "msg": "cwd '%s' does not exist" % cwd})
        return
    argv = [msg["cmd"]] + list(msg.get("args") or [])
    try:
        p = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if msg.get("stdin") else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=msg.get("env") or {},
            user=uid if uid != os.getuid() else None,
            group=gid if gid != os.getgid() else None,
            extra_groups=[] if uid != os.getuid() else None,
            start_new_session=True,
            close_fds=True,
        )
    except FileNotFoundError as e:
        emit({"t": "err", "id": id_, "code": "invalid_argument", "msg": str(e)})
        return
    except PermissionError as e:
        emit({"t": "err", "id": id_, "code": "permission_denied", "msg": str(e)})
        return
    except Exception as e:  # noqa: BLE001
        emit({"t": "err", "id": id_, "code": "internal", "msg": str(e)})
        return
    pr = Proc(id_, p)
    procs[id_] = pr
    emit({"t": "start", "id": id_, "pid": p.pid})
    for f, stream in ((1, p.stdout), (2, p.stderr)):
        fd = stream.fileno()
        os.set_blocking(fd, False)
        pr.fds[fd] = (f, stream)
        sel.register(fd, selectors.EVENT_READ, ("out", pr, f))
    if p.stdin is not None:
        pr.stdin_fd = p.stdin.fileno()
    try:
        pr.pidfd = os.pidfd_open(p.pid)
        sel.register(pr.pidfd, selectors.EVENT_READ, ("exit", pr, 0))
    except OSError:
        pr.pidfd = -1


def read_output(pr, fd):
    f, stream = pr.fds[fd]
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return
    except OSError:
        chunk = b""
    if chunk:
        emit({"t": "out", "id": pr.id, "f": f, "d": base64.b64encode(chunk).decode()})
    else:
        sel.unregister(fd)
        stream.close()
        del pr.fds[fd]
        maybe_finish(pr)


def on_exit(pr):
    try:
        sel.unregister(pr.pidfd)
        os.close(pr.pidfd)
    except (KeyError, OSError, ValueError):
        pass
    pr.pidfd = -1
    try:
        _, st = os.waitpid(pr.popen.pid, 0)
    except ChildProcessError:
        st = 0
    pr.popen.returncode = 0  # keep subprocess from waiting again
    pr.status = st
    pr.exited_at = time.monotonic()
    maybe_finish(pr)


def maybe_finish(pr, force=False):
    if pr.status is None:
        return
    if pr.fds and not force:
        return
    for fd, (_, stream) in list(pr.fds.items()):
        # drain what is already there, then stop listening
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            emit({"t": "out", "id": pr.id, "f": pr.fds[fd][0], "d": base64.b64encode(chunk).decode()})
        try:
            sel.unregister(fd)
        except (KeyError, ValueError):
            pass
        stream.close()
    pr.fds.clear()
    close_stdin(pr)
    st = pr.status
    if os.WIFSIGNALED(st):
        emit({"t": "exit", "id": pr.id, "sig": os.WTERMSIG(st)})
    else:
        emit({"t": "exit", "id": pr.id, "code": os.WEXITSTATUS(st)})
    procs.pop(pr.id, None)


def close_stdin(pr):
    if pr.popen.stdin is not None:
        try:
            pr.popen.stdin.close()
        except OSError:
            pass
        pr.stdin_fd = -1


def write_stdin(pr, data):
    if pr.popen.stdin is None or pr.popen.stdin.closed:
        return False
    try:
        os.write(pr.popen.stdin.fileno(), data)  # blocking write; stdin data is small
        return True
    except OSError:
        return False


def signal_proc(pid, sig):
    try:
        os.killpg(pid, sig)
    except OSError:
        pass
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def bench(msg):
    # The floor: spawn the same command from inside the sandbox, no server, no relaying.
    uid = int(msg.get("uid", 1000))
    times = []
    for _ in range(int(msg.get("n", 10))):
        t0 = time.perf_counter()
        p = subprocess.Popen(msg["argv"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=msg.get("cwd") or "/", env=msg.get("env") or {},
                             user=uid if uid != os.getuid() else None,
                             group=uid if uid != os.getgid() else None,
                             extra_groups=[] if uid != os.getuid() else None,
                             start_new_session=True)
        p.communicate()
        times.append((time.perf_counter() - t0) * 1000.0)
    emit({"t": "bench", "id": msg["id"], "ms": times})


def handle(msg):
    op = msg.get("op")
    if op == "spawn":
        spawn(msg)
    elif op == "signal":
        signal_proc(int(msg["pid"]), int(msg.get("sig", 9)))
    elif op == "stdin":
        pr = procs.get(msg["id"])
        ok = pr is not None and write_stdin(pr, base64.b64decode(msg.get("d", "")))
        if msg.get("ack"):
            emit({"t": "ack", "id": msg["id"], "ack": msg["ack"], "ok": ok})
    elif op == "close":
        pr = procs.get(msg["id"])
        if pr is not None:
            close_stdin(pr)
    elif op == "bench":
        bench(msg)
    elif op == "ping":
        emit({"t": "pong", "id": msg.get("id")})


def main():
    limits = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    apply_limits(limits)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.set_blocking(in_fd, False)
    sel.register(in_fd, selectors.EVENT_READ, ("in", None, 0))
    buf = bytearray()
    emit({"t": "ready", "pid": os.getpid()})
    while True:
        timeout = None
        now = time.monotonic()
        for pr in procs.values():
            if pr.status is not None and pr.fds:
                left = pr.exited_at + EXIT_GRACE_S - now
                timeout = left if timeout is None else min(timeout, left)
        events = sel.select(max(timeout, 0) if timeout is not None else None)
        for key, _ in events:
            kind, pr, _f = key.data
            if kind == "in":
                try:
                    chunk = os.read(in_fd, 65536)  # (1 MiB would be an mmap + munmap per read)
                except BlockingIOError:
                    continue
                if not chunk:
                    # the server is gone: end everything
                    for p in list(procs.values()):
                        signal_proc(p.popen.pid, signal.SIGKILL)
                    os._exit(0)
                buf += chunk
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    line = bytes(buf[:nl])
                    del buf[: nl + 1]
                    if line.strip():
                        try:
                            handle(json.loads(line))
                        except Exception as e:  # noqa: BLE001
                            emit({"t": "log", "msg": "agent: %r" % (e,)})
            elif kind == "out":
                if key.fd in pr.fds:
                    read_output(pr, key.fd)
            elif kind == "exit":
                on_exit(pr)
        now = time.monotonic()
        for pr in list(procs.values()):
            if pr.status is not None and pr.fds and now - pr.exited_at >= EXIT_GRACE_S:
                maybe_finish(pr, force=True)


if __name__ == "__main__":
    main()
