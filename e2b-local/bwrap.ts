// The bubblewrap argv of one sandbox: its namespaces, capabilities and the view of view.ts (system
// dirs read-only, the box's own home/tmp/root/var-tmp, generated passwd/group/resolv.conf, its own
// /proc and /dev). The bounding set is cut by DROP_CAPS, through which the agent is started.
import { existsSync } from "node:fs";
import {
  AGENT_PATH,
  HIDDEN_ETC,
  HOST_LOCAL_BIN,
  KEEP_CAPS,
  LOCAL_BIN_HOST,
  PROC_READONLY,
  SANDBOX_PATH,
  SUDO_PATH,
  boxPaths,
  systemBinds,
} from "./view.ts";

/** bwrap's options (passed through `--args`, so host paths stay out of the sandbox's `ps`) for box dir `dir`. */
export function bwrapArgs(dir: string): string[] {
  const paths = boxPaths(dir);
  // always a network namespace of its own: internet egress, when asked for, is attached to it (network.ts)
  const args = ["--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"];
  args.push("--hostname", "e2b", "--cap-drop", "ALL");
  for (const cap of KEEP_CAPS) args.push("--cap-add", `CAP_${cap.toUpperCase()}`);
  for (const bind of systemBinds()) {
    if (bind.kind === "symlink") args.push("--symlink", bind.src, bind.dest);
    else args.push("--ro-bind", bind.src, bind.dest);
  }
  for (const file of HIDDEN_ETC) if (existsSync(file)) args.push("--ro-bind", "/dev/null", file);
  args.push(
    "--ro-bind",
    paths.passwd,
    "/etc/passwd",
    "--ro-bind",
    paths.group,
    "/etc/group",
    "--ro-bind",
    paths.resolvConf,
    "/etc/resolv.conf",
    "--perms",
    "0755",
    "--dir",
    "/home",
    "--perms",
    "0755",
    "--dir",
    "/run",
    "--perms",
    "0755",
    "--dir",
    "/run/e2b",
    "--bind",
    paths.home,
    "/home/user",
    "--bind",
    paths.tmp,
    "/tmp",
    "--bind",
    paths.root,
    "/root",
    "--perms",
    "0755",
    "--dir",
    "/var",
    "--bind",
    paths.varTmp,
    "/var/tmp",
    "--proc",
    "/proc",
  );
  for (const entry of PROC_READONLY)
    if (existsSync(`/proc/${entry}`)) args.push("--ro-bind", `/proc/${entry}`, `/proc/${entry}`);
  if (HOST_LOCAL_BIN)
    args.push("--ro-bind", HOST_LOCAL_BIN, LOCAL_BIN_HOST, "--ro-bind", paths.localBin, HOST_LOCAL_BIN);
  args.push(
    "--dev",
    "/dev",
    "--ro-bind",
    AGENT_PATH,
    "/run/e2b/agent.py",
    "--ro-bind",
    SUDO_PATH,
    "/run/e2b/sudo",
    "--chdir",
    "/",
    "--clearenv",
    "--setenv",
    "PATH",
    SANDBOX_PATH,
    // the new root itself (a tmpfs) read-only too: the only writable places are the box's disk
    "--remount-ro",
    "/",
  );
  return args;
}
