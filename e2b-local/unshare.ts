// The unshare fallback: the argv for util-linux `unshare` and the shell script that, as pid 1 of the
// new namespaces, builds the same sandbox view bubblewrap builds (bwrap.ts), then becomes the agent.
import { AGENT_PATH, DROP_CAPS, HIDDEN_ETC, HOST_LOCAL_BIN, LOCAL_BIN_HOST, PROC_READONLY, SUDO_PATH } from "./view.ts";

/**
 * The unshare path's setup, run by `sh` as pid 1 of the new pid namespace, inside the new mount
 * namespace, before it becomes the agent. Arguments: box dir, agent path, then the command to exec.
 * Builds the same view bwrap builds: a tmpfs root with the host's /usr, /etc, /opt (and /bin, /lib*)
 * bound read-only, the box's home/tmp/root/var-tmp (folders of its disk) bound read-write, generated
 * passwd/group/resolv.conf, shadow hidden, its own /proc (sys, sysrq-trigger, irq, bus read-only) and
 * a minimal /dev; brings `lo` up in its own network namespace; then pivot_root into it, detach the
 * host's tree, and exec the command through DROP_CAPS (no_new_privs, a cleared inheritable set and
 * the bounding set cut to KEEP_CAPS).
 */
export const UNSHARE_SETUP = `set -eu
D=$1; A=$2; S=$3; shift 3
R=$D/mnt
case $R in
  *[!A-Za-z0-9/._+-]*) echo "e2b-local: unshare isolation needs a data dir path of plain characters, not: $R" >&2; exit 1 ;;
esac
mount --make-rprivate /
mount -t tmpfs -o mode=0755,nosuid,size=1m e2b "$R"
cd "$R"
mkdir -p usr etc opt home/user tmp root proc dev run/e2b var/tmp .oldroot
for d in usr etc opt bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$d"
  elif [ -d "/$d" ]; then mkdir -p "$d"; mount --rbind "/$d" "$d"; mount -o remount,bind,ro "$d"; fi
done
# and every mount below them (mountinfo escapes unusual characters, hence the path check above)
while read -r _ _ _ _ mp _; do
  case $mp in "$R"/*/*) mount -o remount,bind,ro "$mp" ;; esac
done < /proc/self/mountinfo
for f in ${HIDDEN_ETC.join(" ")}; do
  if [ -e "$f" ]; then mount -o bind,ro /dev/null "$R$f"; fi
done
mount -o bind,ro "$D/etc/passwd" etc/passwd
mount -o bind,ro "$D/etc/group" etc/group
mount -o bind,ro "$D/etc/resolv.conf" etc/resolv.conf
mount --bind "$D/fs/home" home/user
mount --bind "$D/fs/tmp" tmp
mount --bind "$D/fs/root" root
mount --bind "$D/fs/vartmp" var/tmp
touch run/e2b/agent.py
mount -o bind,ro "$A" run/e2b/agent.py
touch run/e2b/sudo
mount -o bind,ro "$S" run/e2b/sudo
${
  HOST_LOCAL_BIN
    ? `mkdir -p run${LOCAL_BIN_HOST.slice(4)}
mount --bind ${HOST_LOCAL_BIN} run${LOCAL_BIN_HOST.slice(4)}; mount -o remount,bind,ro run${LOCAL_BIN_HOST.slice(4)}
mount --bind "$D/local-bin" usr/local/bin; mount -o remount,bind,ro usr/local/bin`
    : ""
}
mount -t proc -o nosuid,nodev,noexec proc proc
for p in ${PROC_READONLY.join(" ")}; do
  if [ -e "proc/$p" ]; then mount --bind "proc/$p" "proc/$p"; mount -o remount,bind,ro "proc/$p"; fi
done
mount -t tmpfs -o mode=0755,nosuid,size=64k dev dev
for n in null zero full random urandom tty; do touch "dev/$n"; mount --bind "/dev/$n" "dev/$n"; done
mkdir dev/pts dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts dev/pts
mount -t tmpfs -o mode=01777,nosuid,nodev shm dev/shm
ln -s pts/ptmx dev/ptmx; ln -s /proc/self/fd dev/fd
ln -s /proc/self/fd/0 dev/stdin; ln -s /proc/self/fd/1 dev/stdout; ln -s /proc/self/fd/2 dev/stderr
echo e2b > /proc/sys/kernel/hostname
python3 -I -S -c 'import fcntl, socket, struct; fcntl.ioctl(socket.socket(), 0x8914, struct.pack("16sh22x", b"lo", 0x41))'
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
mount -o remount,ro,bind /
mount -o remount,ro,bind /dev
exec ${DROP_CAPS.join(" ")} "$@"
`;

/**
 * The argv (after the unshare binary) that starts `command` in a new sandbox rooted at box dir `dir`;
 * always with a network namespace of its own (internet egress is attached to it: network.ts).
 */
export function unshareArgs(dir: string, command: string[]): string[] {
  const namespaces = ["--pid", "--fork", "--kill-child=SIGKILL", "--mount", "--ipc", "--uts", "--net"];
  return [...namespaces, "/bin/sh", "-c", UNSHARE_SETUP, "e2b-setup", dir, AGENT_PATH, SUDO_PATH, ...command];
}
