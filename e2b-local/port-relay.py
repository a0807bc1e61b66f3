# e2b-local port relay: one per sandbox, started by ports.ts. It joins the sandbox's network namespace
# (fd 3, opened by e2b-local), serves a host-only unix socket, and splices each connection to
# 127.0.0.1:<port> *inside* that namespace, so only the sandbox's own servers can be reached.
#   python3 -I -S port-relay.py <socket path>        (stdin: EOF means "exit"; stdout: "ready")
# One thread, one selector loop. Handshake per connection: the client sends "<port>\n"; the relay
# answers "OK\n" and then relays bytes both ways, or "ERR <reason>\n" and closes. Standard library only.
import ctypes
import errno
import os
import socket
import selectors
import sys

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


class Conn:
    """One relayed connection: the client side (unix) and, once connected, the target (TCP)."""

    def __init__(self, client):
        self.client = client
        self.target = None
        self.hand = b""  # the handshake line, while it arrives
        self.families = []  # addresses still to try
        self.port = 0
        # bytes read from one side, not yet written to the other, and whether that side has ended
        self.out = {}
        self.eof = {}

    def other(self, s):
        return self.target if s is self.client else self.client


conns = {}  # fd -> Conn
sel = selectors.DefaultSelector()


def close(c):
    for s in (c.client, c.target):
        if s is not None:
            conns.pop(s.fileno(), None)
            try:
                sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()


def update(c, s):
    # read while nothing is waiting to go the other way (backpressure); write while something is
    if s is None or s.fileno() < 0:
        return
    o = c.other(s)
    ev = 0
    if not c.eof.get(s) and not c.out.get(s):
        ev |= selectors.EVENT_READ
    if o is not None and c.out.get(o):
        ev |= selectors.EVENT_WRITE
    registered = _registered(s)
    if ev and registered:
        sel.modify(s, ev)
    elif ev:
        sel.register(s, ev)
    elif registered:
        sel.unregister(s)


def _registered(s):
    try:
        sel.get_key(s)
        return True
    except KeyError:
        return False


def try_connect(c):
    last = errno.ECONNREFUSED
    while c.families:
        family, addr = c.families.pop(0)
        try:
            t = socket.socket(family, socket.SOCK_STREAM)
        except OSError as e:  # e.g. no IPv6 in this kernel
            last = e.errno
            continue
        t.setblocking(False)
        t.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = t.connect_ex(addr)
        if err in (0, errno.EINPROGRESS):
            c.target = t
            conns[t.fileno()] = c
            sel.register(t, selectors.EVENT_WRITE)
            return
        t.close()
        last = err
    fail(c, "port is not open" if last in (errno.ECONNREFUSED, errno.EADDRNOTAVAIL) else os.strerror(last))


def fail(c, reason):
    try:
        c.client.send(("ERR %s\n" % reason).encode())
    except OSError:
        pass
    close(c)


def on_handshake(c):
    try:
        chunk = c.client.recv(MAX_HANDSHAKE)
    except BlockingIOError:
        return
    except OSError:
        chunk = b""
    if not chunk:
        close(c)
        return
    c.hand += chunk
    if b"\n" not in c.hand:
        if len(c.hand) >= MAX_HANDSHAKE:
            fail(c, "bad handshake")
        return
    line, rest = c.hand.split(b"\n", 1)
    try:
        c.port = int(line.strip())
    except ValueError:
        c.port = 0
    if not 0 < c.port < 65536:
        fail(c, "bad handshake")
        return
    c.out[c.client] = rest  # (the client waits for OK before sending, but keep any early bytes)
    c.hand = None
    sel.unregister(c.client)
    # IPv4 loopback first, then IPv6 (a server may listen on ::1 only)
    c.families = [(socket.AF_INET, ("127.0.0.1", c.port)), (socket.AF_INET6, ("::1", c.port, 0, 0))]
    try_connect(c)


def on_connected(c):
    err = c.target.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        conns.pop(c.target.fileno(), None)
        sel.unregister(c.target)
        c.target.close()
        c.target = None
        if c.families:
            try_connect(c)
        else:
            fail(c, "port is not open" if err in (errno.ECONNREFUSED, errno.EADDRNOTAVAIL) else os.strerror(err))
        return
    try:
        c.client.send(b"OK\n")
    except OSError:
        close(c)
        return
    c.families = None
    update(c, c.client)
    update(c, c.target)


def on_event(c, s, mask):
    if c.hand is not None:
        on_handshake(c)
        return
    if c.families is not None:
        on_connected(c)
        return
    o = c.other(s)
    if mask & selectors.EVENT_WRITE and c.out.get(o):
        try:
            n = s.send(c.out[o])
            c.out[o] = c.out[o][n:]
        except BlockingIOError:
            pass
        except OSError:
            close(c)
            return
        if not c.out[o] and c.eof.get(o):
            shut(s)
    if mask & selectors.EVENT_READ and not c.eof.get(s):
        try:
            data = s.recv(65536)
        except BlockingIOError:
            data = None
        except OSError:
            close(c)
            return
        if data == b"":
            c.eof[s] = True
            if not c.out.get(s):
                shut(o)
        elif data:
            # write straight through when possible, buffer the rest
            try:
                n = o.send(data)
            except BlockingIOError:
                n = 0
            except OSError:
                close(c)
                return
            c.out[s] = data[n:]
    if c.eof.get(c.client) and c.eof.get(c.target) and not c.out.get(c.client) and not c.out.get(c.target):
        close(c)
        return
    update(c, c.client)
    update(c, c.target)


def shut(s):
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass


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
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ)
    sel.register(0, selectors.EVENT_READ)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    # one thread, one event loop: no thread start or GIL hand-over on the request path
    while True:
        for key, mask in sel.select():
            if key.fileobj is listener:
                try:
                    client, _ = listener.accept()
                except BlockingIOError:
                    continue
                client.setblocking(False)
                c = Conn(client)
                conns[client.fileno()] = c
                sel.register(client, selectors.EVENT_READ)
            elif key.fileobj == 0:
                # e2b-local holds our stdin: when it closes (sandbox killed, server gone), exit
                if not os.read(0, 4096):
                    os._exit(0)
            else:
                c = conns.get(key.fd)
                if c is not None:
                    on_event(c, key.fileobj, mask)


if __name__ == "__main__":
    main()
