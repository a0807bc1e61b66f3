# e2b-local port relay: one per sandbox, started by ports.ts. It joins the sandbox's network namespace
# (fd 3, opened by e2b-local), serves a host-only unix socket, and splices each connection to
# 127.0.0.1:<port> *inside* that namespace, so only the sandbox's own servers can be reached.
#   python3 -I -S port-relay.py <socket path>        (stdin: EOF means "exit"; stdout: "ready")
# Handshake per connection: the client sends "<port>\n"; the relay answers "OK\n" and then relays
# bytes both ways, or "ERR <reason>\n" and closes. Standard library only.
import ctypes
import errno
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
NOBODY = 65534
MAX_HANDSHAKE = 16


def join_netns(fd):
    # setns before any thread exists: threads inherit the namespace of the thread that made them
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    os.close(fd)


def read_port(conn):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = conn.recv(MAX_HANDSHAKE - len(buf))
        if not chunk or len(buf) + len(chunk) >= MAX_HANDSHAKE and not chunk.endswith(b"\n"):
            return None
        buf += chunk
    try:
        port = int(buf.strip())
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


def connect_inside(port):
    # IPv4 loopback first, then IPv6 (a server may listen on ::1 only)
    last = None
    for family, addr in ((socket.AF_INET, ("127.0.0.1", port)), (socket.AF_INET6, ("::1", port, 0, 0))):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(addr)
            s.settimeout(None)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s, None
        except OSError as e:
            s.close()
            last = e
    reason = "port is not open" if last is not None and last.errno in (errno.ECONNREFUSED, errno.EADDRNOTAVAIL) else str(last)
    return None, reason


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        # one side broke: end both, so the other pump wakes up too
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn):
    try:
        port = read_port(conn)
        if port is None:
            conn.sendall(b"ERR bad handshake\n")
            conn.close()
            return
        target, reason = connect_inside(port)
        if target is None:
            conn.sendall(("ERR %s\n" % reason).encode())
            conn.close()
            return
        conn.sendall(b"OK\n")
    except OSError:
        conn.close()
        return
    back = threading.Thread(target=pump, args=(target, conn), daemon=True)
    back.start()
    pump(conn, target)
    back.join()
    conn.close()
    target.close()


def accept_loop(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def main():
    path = sys.argv[1]
    join_netns(3)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(128)
    # nothing below needs root: connecting to loopback ports and relaying bytes
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    threading.Thread(target=accept_loop, args=(listener,), daemon=True).start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    # e2b-local holds our stdin: when it closes (sandbox killed, server gone), exit
    while os.read(0, 4096):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
