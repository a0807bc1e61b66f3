// The bubblewrap argv of one sandbox: its namespaces, capabilities and the view of view.ts (system
// dirs read-only, the box's own home/tmp/root, generated passwd/group, its own /proc and /dev).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { AGENT_PATH, HIDDEN_ETC, KEEP_CAPS, PROC_READONLY, SANDBOX_PATH, systemBinds } from "./view.ts";

/** bwrap's options (passed through `--args`, so host paths stay out of the sandbox's `ps`) for box dir `dir`. */
export function bwrapArgs(dir: string, internet: boolean): string[] {
  const args: string[] = ["--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "e2b"];
  if (!internet) args.push("--unshare-net");
  args.push("--cap-drop", "ALL");
  for (const cap of KEEP_CAPS) args.push("--cap-add", `CAP_${cap.toUpperCase()}`);
  for (const bind of systemBinds()) {
    if (bind.kind === "symlink") args.push("--symlink", bind.src, bind.dest);
    else args.push("--ro-bind", bind.src, bind.dest);
  }
  for (const file of HIDDEN_ETC) if (existsSync(file)) args.push("--ro-bind", "/dev/null", file);
  args.push(
    "--ro-bind",
    join(dir, "etc", "passwd"),
    "/etc/passwd",
    "--ro-bind",
    join(dir, "etc", "group"),
    "/etc/group",
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
    "--perms",
    "01777",
    "--dir",
    "/var/tmp",
    "--bind",
    join(dir, "home"),
    "/home/user",
    "--bind",
    join(dir, "tmp"),
    "/tmp",
    "--bind",
    join(dir, "root"),
    "/root",
    "--proc",
    "/proc",
  );
  for (const entry of PROC_READONLY)
    if (existsSync(`/proc/${entry}`)) args.push("--ro-bind", `/proc/${entry}`, `/proc/${entry}`);
  args.push(
    "--dev",
    "/dev",
    "--ro-bind",
    AGENT_PATH,
    "/run/e2b/agent.py",
    "--chdir",
    "/",
    "--clearenv",
    "--setenv",
    "PATH",
    SANDBOX_PATH,
  );
  return args;
}
