# e2b-local sandbox agent: the process that lives inside each sandbox (what envd is in E2B's VMs).
# It runs under bubblewrap/unshare in the sandbox's namespaces, spawns commands on request and
# relays their output, exit status, stdin and signals to the e2b-local server as JSON lines over its
# own stdin/stdout. Only the Python standard library is used; it is started as
#   python3 -I -S agent.py '<json limits>'
import array
import base64
import fcntl
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import struct
import sys
import termios
import time

EXIT_GRACE_S = 0.05  # how long to keep draining pipes a background grandchild still holds open

sel = selectors.DefaultSelector()
out_fd = sys.stdout.fileno()
in_fd = sys.stdin.fileno()
procs = {}  # id -> Proc
pending_out = bytearray()


class Proc:
    __slots__ = ("id", "popen", "pidfd", "fds", "status", "exited_at", "stdin_fd", "master")

    def __init__(self, id_, popen):
        self.id = id_
        self.popen = popen
        self.pidfd = -1
        self.fds = {}
        self.status = None
        self.exited_at = 0.0
        self.stdin_fd = -1
        self.master = -1  # a PTY's master side: its output is read from it, its input written to it


class _Master:
    """The PTY master fd in the shape read_output/maybe_finish expect of a pipe stream."""

    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd

    def close(self):
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


def set_winsize(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(1, rows), max(1, cols), 0, 0))


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
    # (no RLIMIT_NPROC: it counts per uid across every sandbox; the pids cgroup limits each one)
    for name, key in (("fsize", resource.RLIMIT_FSIZE), ("as", resource.RLIMIT_AS),
                      ("nofile", resource.RLIMIT_NOFILE)):
        value = limits.get(name)
        if isinstance(value, int) and value > 0:
            try:
                resource.setrlimit(key, (value, value))
            except (ValueError, OSError):
                pass


def as_user(uid, gid):
    """Popen arguments that run the child as uid/gid (no supplementary groups), or as the agent itself."""
    if uid == os.getuid() and gid == os.getgid():
        return {}
    return {"user": uid, "group": gid, "extra_groups": []}


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
    if msg.get("pty"):
        spawn_pty(msg, id_, argv, uid, gid, cwd)
        return
    try:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if msg.get("stdin") else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=msg.get("env") or {},
            start_new_session=True,
            close_fds=True,
            **as_user(uid, gid),
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
    proc = Proc(id_, popen)
    procs[id_] = proc
    emit({"t": "start", "id": id_, "pid": popen.pid})
    for f, stream in ((1, popen.stdout), (2, popen.stderr)):
        fd = stream.fileno()
        os.set_blocking(fd, False)
        proc.fds[fd] = (f, stream)
        sel.register(fd, selectors.EVENT_READ, ("out", proc, f))
    if popen.stdin is not None:
        proc.stdin_fd = popen.stdin.fileno()
    try:
        proc.pidfd = os.pidfd_open(popen.pid)
        sel.register(proc.pidfd, selectors.EVENT_READ, ("exit", proc, 0))
    except OSError:
        proc.pidfd = -1


def spawn_pty(msg, id_, argv, uid, gid, cwd):
    # A real terminal: the command's stdin/stdout/stderr are the slave side of a fresh pty, which
    # becomes the controlling terminal of its new session (job control, ^C, SIGWINCH on resize).
    size = msg.get("pty") or {}
    try:
        master, slave = os.openpty()
    except OSError as e:
        emit({"t": "err", "id": id_, "code": "internal", "msg": "cannot open a pty: %s" % e})
        return
    try:
        set_winsize(master, int(size.get("cols") or 80), int(size.get("rows") or 24))

        def make_controlling():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        popen = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=msg.get("env") or {},
            start_new_session=True, close_fds=True, preexec_fn=make_controlling, **as_user(uid, gid))
    except Exception as e:  # noqa: BLE001
        os.close(master)
        code = "invalid_argument" if isinstance(e, FileNotFoundError) else "internal"
        emit({"t": "err", "id": id_, "code": code, "msg": str(e)})
        return
    finally:
        os.close(slave)
    proc = Proc(id_, popen)
    proc.master = master
    procs[id_] = proc
    emit({"t": "start", "id": id_, "pid": popen.pid})
    os.set_blocking(master, False)
    proc.fds[master] = (3, _Master(master))
    sel.register(master, selectors.EVENT_READ, ("out", proc, 3))
    try:
        proc.pidfd = os.pidfd_open(popen.pid)
        sel.register(proc.pidfd, selectors.EVENT_READ, ("exit", proc, 0))
    except OSError:
        proc.pidfd = -1


def read_output(proc, fd):
    f, stream = proc.fds[fd]
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return
    except OSError:
        chunk = b""  # EIO on a pty master: every slave fd is closed
    if chunk:
        emit({"t": "out", "id": proc.id, "f": f, "d": base64.b64encode(chunk).decode()})
    else:
        sel.unregister(fd)
        stream.close()
        del proc.fds[fd]
        maybe_finish(proc)


def on_exit(proc):
    try:
        sel.unregister(proc.pidfd)
        os.close(proc.pidfd)
    except (KeyError, OSError, ValueError):
        pass
    proc.pidfd = -1
    try:
        _, status = os.waitpid(proc.popen.pid, 0)
    except ChildProcessError:
        status = 0
    proc.popen.returncode = 0  # keep subprocess from waiting again
    proc.status = status
    proc.exited_at = time.monotonic()
    maybe_finish(proc)


def maybe_finish(proc, force=False):
    if proc.status is None:
        return
    if proc.fds and not force:
        return
    for fd, (_, stream) in list(proc.fds.items()):
        # drain what is already there, then stop listening
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            emit({"t": "out", "id": proc.id, "f": proc.fds[fd][0], "d": base64.b64encode(chunk).decode()})
        try:
            sel.unregister(fd)
        except (KeyError, ValueError):
            pass
        stream.close()
    proc.fds.clear()
    proc.master = -1
    close_stdin(proc)
    status = proc.status
    if os.WIFSIGNALED(status):
        emit({"t": "exit", "id": proc.id, "sig": os.WTERMSIG(status)})
    else:
        emit({"t": "exit", "id": proc.id, "code": os.WEXITSTATUS(status)})
    procs.pop(proc.id, None)


def close_stdin(proc):
    if proc.popen.stdin is not None:
        try:
            proc.popen.stdin.close()
        except OSError:
            pass
        proc.stdin_fd = -1


def write_stdin(proc, data):
    if proc.master >= 0:
        return write_all(proc.master, data)
    if proc.popen.stdin is None or proc.popen.stdin.closed:
        return False
    try:
        os.write(proc.popen.stdin.fileno(), data)  # blocking write; stdin data is small
        return True
    except OSError:
        return False


def write_all(fd, data):
    # the master is non-blocking (it is read in the loop): wait for room instead of failing
    import select
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
        except OSError:
            return False
    return True


def signal_proc(pid, sig):
    try:
        os.killpg(pid, sig)
    except OSError:
        pass
    try:
        os.kill(pid, sig)
    except OSError:
        pass


class Elevated:
    """A command `sudo` asked for: the sudo process holds the connection, which ends with the status."""

    __slots__ = ("conn", "popen", "pidfd", "buf")

    def __init__(self, conn):
        self.conn = conn
        self.popen = None
        self.pidfd = -1
        self.buf = b""


SUDO_SOCKET = "\0e2b-local-sudo"


def sudo_listen():
    # An abstract socket lives in the sandbox's own network namespace: only its processes reach it.
    # Every user of the sandbox may use it (E2B's template gives `user` passwordless sudo).
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(SUDO_SOCKET)
        sock.listen(16)
    except OSError as e:
        emit({"t": "log", "msg": "agent: no sudo: %s" % e})
        sock.close()
        return
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ, ("sudo-listen", sock, 0))


def sudo_accept(listener):
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    conn.setblocking(False)
    sel.register(conn, selectors.EVENT_READ, ("sudo-conn", Elevated(conn), 0))


def sudo_reply(el, reply):
    try:
        el.conn.setblocking(True)
        # (MSG_NOSIGNAL: SIGPIPE is fatal to the agent, and the sudo process may be gone)
        el.conn.sendall(json.dumps(reply).encode() + b"\n", socket.MSG_NOSIGNAL)
    except OSError:
        pass
    sudo_close(el)


def sudo_close(el):
    for obj in (el.conn,):
        try:
            sel.unregister(obj)
        except (KeyError, ValueError):
            pass
    el.conn.close()
    if el.pidfd >= 0:
        try:
            sel.unregister(el.pidfd)
        except (KeyError, ValueError):
            pass
        os.close(el.pidfd)
        el.pidfd = -1


def sudo_read(el):
    if el.popen is None:
        try:
            data, anc, _flags, _addr = el.conn.recvmsg(65536, socket.CMSG_SPACE(3 * 4))
        except BlockingIOError:
            return
        except OSError:
            data, anc = b"", []
        fds = []
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(array.array("i", payload[: len(payload) - len(payload) % 4]))
        try:
            if not data:
                sudo_close(el)
                return
            el.buf += data
            if b"\n" not in el.buf or len(fds) != 3:
                sudo_reply(el, {"error": "bad request", "code": 1})
                return
            sudo_spawn(el, json.loads(el.buf.split(b"\n", 1)[0]), fds)
        finally:
            for fd in fds:
                os.close(fd)
        return
    # running: the sudo process relays signals as `sig N` lines; its end ends the command
    try:
        data = el.conn.recv(4096)
    except BlockingIOError:
        return
    except OSError:
        data = b""
    if not data:
        signal_proc(el.popen.pid, signal.SIGKILL)
        try:
            sel.unregister(el.conn)
        except (KeyError, ValueError):
            pass
        return
    for line in data.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "sig" and parts[1].isdigit():
            signal_proc(el.popen.pid, int(parts[1]))


def sudo_spawn(el, req, fds):
    argv = [str(a) for a in req.get("argv") or []]
    uid = int(req.get("uid", 0))
    cwd = req.get("cwd") or "/"
    if not os.path.isdir(cwd):
        cwd = "/"
    try:
        el.popen = subprocess.Popen(
            argv, stdin=fds[0], stdout=fds[1], stderr=fds[2], cwd=cwd, env=req.get("env") or {},
            start_new_session=True, close_fds=True, **as_user(uid, uid))
    except FileNotFoundError:
        sudo_reply(el, {"error": "%s: command not found" % (argv[0] if argv else ""), "code": 1})
        return
    except PermissionError as e:
        sudo_reply(el, {"error": "%s: %s" % (argv[0], e.strerror), "code": 1})
        return
    except Exception as e:  # noqa: BLE001
        sudo_reply(el, {"error": str(e), "code": 1})
        return
    el.pidfd = os.pidfd_open(el.popen.pid)
    sel.register(el.pidfd, selectors.EVENT_READ, ("sudo-exit", el, 0))


def sudo_exited(el):
    try:
        _, status = os.waitpid(el.popen.pid, 0)
    except ChildProcessError:
        status = 0
    el.popen.returncode = 0
    if os.WIFSIGNALED(status):
        sudo_reply(el, {"sig": os.WTERMSIG(status)})
    else:
        sudo_reply(el, {"code": os.WEXITSTATUS(status)})


META_PREFIX = "user.e2b."  # file metadata lives in this xattr namespace, as on E2B's envd


def read_meta(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return None
    meta = {}
    for name in names:
        if name.startswith(META_PREFIX):
            try:
                meta[name[len(META_PREFIX):]] = os.getxattr(path, name, follow_symlinks=False).decode(
                    "utf-8", "replace")
            except OSError:
                pass
    return meta or None


def write_meta(path, meta):
    """Replace the file's metadata with `meta` (an empty map clears it). Returns an error text or None."""
    try:
        for name in os.listxattr(path, follow_symlinks=False):
            if name.startswith(META_PREFIX):
                os.removexattr(path, name, follow_symlinks=False)
        for key, value in meta.items():
            os.setxattr(path, META_PREFIX + key, str(value).encode(), follow_symlinks=False)
    except OSError as e:
        return "%s: %s" % (e.strerror or e, path)
    return None


def bench(msg):
    # The floor: spawn the same command from inside the sandbox, no server, no relaying.
    uid = int(msg.get("uid", 1000))
    times = []
    for _ in range(int(msg.get("n", 10))):
        t0 = time.perf_counter()
        popen = subprocess.Popen(msg["argv"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, cwd=msg.get("cwd") or "/", env=msg.get("env") or {},
                                 start_new_session=True, **as_user(uid, uid))
        popen.communicate()
        times.append((time.perf_counter() - t0) * 1000.0)
    emit({"t": "bench", "id": msg["id"], "ms": times})


def handle(msg):
    op = msg.get("op")
    if op == "spawn":
        spawn(msg)
    elif op == "signal":
        signal_proc(int(msg["pid"]), int(msg.get("sig", 9)))
    elif op == "stdin":
        proc = procs.get(msg["id"])
        ok = proc is not None and write_stdin(proc, base64.b64decode(msg.get("d", "")))
        if msg.get("ack"):
            emit({"t": "ack", "id": msg["id"], "ack": msg["ack"], "ok": ok})
    elif op == "resize":
        proc = procs.get(msg["id"])
        ok = proc is not None and proc.master >= 0
        if ok:
            try:
                set_winsize(proc.master, int(msg.get("cols") or 80), int(msg.get("rows") or 24))
            except OSError:
                ok = False
        emit({"t": "ack", "id": msg["id"], "ack": msg["ack"], "ok": ok})
    elif op == "close":
        proc = procs.get(msg["id"])
        if proc is not None:
            close_stdin(proc)
    elif op == "meta-get":
        emit({"t": "meta", "id": msg["id"], "meta": [read_meta(p) for p in msg.get("paths") or []]})
    elif op == "meta-set":
        error = write_meta(msg["path"], msg.get("meta") or {})
        emit({"t": "meta", "id": msg["id"], "error": error})
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
    sudo_listen()
    buf = bytearray()
    emit({"t": "ready", "pid": os.getpid()})
    while True:
        timeout = None
        now = time.monotonic()
        for proc in procs.values():
            if proc.status is not None and proc.fds:
                left = proc.exited_at + EXIT_GRACE_S - now
                timeout = left if timeout is None else min(timeout, left)
        events = sel.select(max(timeout, 0) if timeout is not None else None)
        for key, _ in events:
            kind, proc, _f = key.data
            if kind == "in":
                try:
                    chunk = os.read(in_fd, 65536)  # (1 MiB would be an mmap + munmap per read)
                except BlockingIOError:
                    continue
                if not chunk:
                    # the server is gone: end everything
                    for proc in list(procs.values()):
                        signal_proc(proc.popen.pid, signal.SIGKILL)
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
                if key.fd in proc.fds:
                    read_output(proc, key.fd)
            elif kind == "exit":
                on_exit(proc)
            elif kind == "sudo-listen":
                sudo_accept(proc)
            elif kind == "sudo-conn":
                sudo_read(proc)
            elif kind == "sudo-exit":
                sudo_exited(proc)
        now = time.monotonic()
        for proc in list(procs.values()):
            if proc.status is not None and proc.fds and now - proc.exited_at >= EXIT_GRACE_S:
                maybe_finish(proc, force=True)


if __name__ == "__main__":
    main()
