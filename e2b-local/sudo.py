#!/usr/bin/python3 -I
# e2b-local's `sudo` inside a sandbox (bound at /usr/local/bin/sudo): passwordless sudo for every user,
# as E2B's base template configures it. A setuid binary cannot elevate here (the sandbox runs with
# no_new_privs), so this asks the sandbox's agent, which runs as root, over an abstract unix socket of
# the sandbox's own network namespace: it passes its stdin/stdout/stderr, the command, the target user,
# cwd and the environment sudo would give it (env_reset unless -E), relays signals, and exits with the
# command's status. Only the Python standard library is used.
import array
import json
import os
import signal
import socket
import sys

SOCKET = "\0e2b-local-sudo"
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
USERS = {"root": (0, "/root"), "user": (1000, "/home/user"), "nobody": (65534, "/nonexistent")}
# what sudo's env_reset keeps of the caller's environment
KEEP = ("TERM", "COLORTERM", "DISPLAY", "LANG", "LANGUAGE", "LC_ALL", "TZ", "LS_COLORS", "COLORS")
USAGE = """usage: sudo [-EHiknsv] [-u user] [--] [VAR=value] command [arg ...]
e2b-local's sudo: passwordless, for every user of the sandbox.
"""


def fail(message, code=1):
    sys.stderr.write("sudo: %s\n" % message)
    sys.exit(code)


def original_environ():
    # Python itself may have added LC_CTYPE (PEP 538 locale coercion): the kernel's copy is what we got
    try:
        with open("/proc/self/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return dict(os.environ)
    env = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            env[k.decode(errors="surrogateescape")] = v.decode(errors="surrogateescape")
    return env


def parse(argv):
    opts = {"user": "root", "preserve": False, "login": False, "shell": False, "home": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            if name == "user":
                if not value:
                    i += 1
                    if i >= len(argv):
                        fail("option requires an argument -- 'u'")
                    value = argv[i]
                opts["user"] = value
            elif name == "preserve-env":
                opts["preserve"] = True
            elif name == "login":
                opts["login"] = True
            elif name == "shell":
                opts["shell"] = True
            elif name in ("non-interactive", "set-home", "reset-timestamp", "remove-timestamp", "validate"):
                opts["home"] = opts["home"] or name == "set-home"
                if name in ("reset-timestamp", "remove-timestamp", "validate"):
                    opts["noop"] = True
            elif name == "help":
                sys.stdout.write(USAGE)
                sys.exit(0)
            elif name == "version":
                sys.stdout.write("Sudo version 1.9 (e2b-local)\n")
                sys.exit(0)
            elif name == "list":
                opts["list"] = True
            else:
                fail("unrecognized option '%s'\n%s" % (arg, USAGE))
            i += 1
            continue
        flags = arg[1:]
        j = 0
        while j < len(flags):
            f = flags[j]
            if f == "u":
                value = flags[j + 1:]
                if not value:
                    i += 1
                    if i >= len(argv):
                        fail("option requires an argument -- 'u'")
                    value = argv[i]
                opts["user"] = value
                break
            elif f == "E":
                opts["preserve"] = True
            elif f == "i":
                opts["login"] = True
            elif f == "s":
                opts["shell"] = True
            elif f == "H":
                opts["home"] = True
            elif f in "nSA":
                pass
            elif f in "kKv":
                opts["noop"] = True
            elif f == "l":
                opts["list"] = True
            elif f == "h":
                sys.stdout.write(USAGE)
                sys.exit(0)
            elif f == "V":
                sys.stdout.write("Sudo version 1.9 (e2b-local)\n")
                sys.exit(0)
            else:
                fail("invalid option -- '%s'\n%s" % (f, USAGE))
            j += 1
        i += 1
    return opts, argv[i:]


def target(name):
    if name.startswith("#") and name[1:].isdigit():
        uid = int(name[1:])
        for n, (u, home) in USERS.items():
            if u == uid:
                return uid, n, home
        return uid, name, "/"
    if name not in USERS:
        fail("unknown user %s" % name)
    uid, home = USERS[name]
    return uid, name, home


def main():
    opts, rest = parse(sys.argv[1:])
    if opts.get("list"):
        sys.stdout.write("User %s may run the following commands on e2b:\n    (ALL : ALL) NOPASSWD: ALL\n"
                         % os.environ.get("USER", "user"))
        sys.exit(0)
    assigns = {}
    while rest and "=" in rest[0] and not rest[0].startswith("=") and rest[0].split("=", 1)[0].isidentifier():
        k, v = rest.pop(0).split("=", 1)
        assigns[k] = v
    if not rest and not (opts["login"] or opts["shell"]):
        if opts.get("noop"):
            sys.exit(0)
        sys.stderr.write(USAGE)
        sys.exit(1)
    uid, name, home = target(opts["user"])
    shell = "/bin/bash"
    if opts["login"]:
        argv = [shell, "-l", "-c", " ".join(rest)] if rest else [shell, "-l"]
        cwd = home
    elif opts["shell"]:
        shell = os.environ.get("SHELL") or shell
        argv = [shell, "-c", " ".join(rest)] if rest else [shell]
        cwd = os.getcwd()
    else:
        argv = rest
        cwd = os.getcwd()
    caller_env = original_environ()
    me = caller_env.get("USER") or ("root" if os.getuid() == 0 else "user")
    if opts["preserve"]:
        env = caller_env
    else:
        env = {k: v for k, v in caller_env.items() if k in KEEP or k.startswith("LC_")}
        env["HOME"] = home
    if opts["home"] or opts["login"]:
        env["HOME"] = home
    env.update({"PATH": SECURE_PATH, "USER": name, "LOGNAME": name, "SHELL": shell,
                "SUDO_USER": me, "SUDO_UID": str(os.getuid()), "SUDO_GID": str(os.getgid()),
                "SUDO_COMMAND": " ".join(rest) or shell})
    env.update(assigns)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(SOCKET)
    except OSError as e:
        fail("cannot reach the sandbox agent: %s" % e)
    request = json.dumps({"argv": argv, "uid": uid, "cwd": cwd, "env": env}).encode() + b"\n"
    sock.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])

    def relay(signum, _frame):
        try:
            sock.sendall(b"sig %d\n" % signum)
        except OSError:
            pass

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
              signal.SIGWINCH):
        signal.signal(s, relay)
    buf = b""
    while b"\n" not in buf:
        try:
            chunk = sock.recv(4096)
        except InterruptedError:
            continue
        if not chunk:
            fail("the sandbox agent went away")
        buf += chunk
    reply = json.loads(buf.split(b"\n", 1)[0])
    if "error" in reply:
        fail(reply["error"], reply.get("code", 1))
    if "sig" in reply:
        signal.signal(reply["sig"], signal.SIG_DFL)
        os.kill(os.getpid(), reply["sig"])
        sys.exit(128 + reply["sig"])
    sys.exit(reply.get("code", 0))


if __name__ == "__main__":
    main()
