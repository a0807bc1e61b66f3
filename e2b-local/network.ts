// A sandbox's network. Every sandbox has its own network namespace (only `lo`, up). One created with
// internet access also gets user-mode networking: slirp4netns attaches a tap device in that namespace
// and makes its connections from the host as ordinary sockets, with host loopback disabled; nftables
// rules inside the namespace (sandbox root has no CAP_NET_ADMIN to change them) refuse the host's
// loopback and own addresses, private, shared, link-local and multicast ranges, so the host's
// services, the local network and other sandboxes stay out of reach. DNS goes to slirp's forwarder.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";

/** slirp4netns's DNS forwarder inside the sandbox (its 10.0.2.0/24 network). */
export const SLIRP_DNS = "10.0.2.3";

/** IPv4 destinations no sandbox may reach (besides the host's own addresses). */
const BLOCKED_V4 = [
  "0.0.0.0/8",
  "10.0.0.0/8", // private; also slirp's gateway 10.0.2.2, which would be the host
  "100.64.0.0/10", // shared address space (carrier NAT, cloud metadata on some providers)
  "127.0.0.0/8",
  "169.254.0.0/16", // link-local, cloud metadata
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/3", // multicast and reserved
];
const BLOCKED_V6 = ["::/127", "::ffff:0:0/96", "64:ff9b::/96", "fc00::/7", "fe80::/10", "ff00::/8"];

function findBin(names: string[]): string | null {
  for (const name of names) {
    for (const dir of ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"]) {
      if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
    }
  }
  return null;
}

export type Egress = { slirp: string; nft: string; nsenter: string };

/** The tools internet egress needs, or a sentence naming what is missing. */
export function probeEgress(): Egress | string {
  const slirp = findBin(["slirp4netns"]);
  const nft = findBin(["nft"]);
  const nsenter = findBin(["nsenter"]);
  const missing = [!slirp && "slirp4netns", !nft && "nftables", !nsenter && "util-linux nsenter"].filter(Boolean);
  if (missing.length || !slirp || !nft || !nsenter)
    return `internet access unavailable: install ${missing.join(", ")} (sandboxes created with allowInternetAccess get no network)`;
  return { slirp, nft, nsenter };
}

/** The nftables ruleset loaded into an internet sandbox's namespace. */
export function egressRules(): string {
  const hostV4: string[] = [];
  const hostV6: string[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === "IPv4") hostV4.push(address.address);
      else hostV6.push(address.address.split("%")[0]!);
    }
  }
  return [
    "table inet e2b {",
    "  chain output {",
    "    type filter hook output priority 0; policy accept;",
    '    oifname "lo" accept',
    `    ip daddr ${SLIRP_DNS} meta l4proto { tcp, udp } th dport 53 accept`,
    `    ip daddr { ${BLOCKED_V4.join(", ")} } reject`,
    `    ip6 daddr { ${BLOCKED_V6.join(", ")} } reject`,
    // one rule each: a host address may lie inside a range above, and a set must not overlap
    ...hostV4.map((address) => `    ip daddr ${address} reject`),
    ...hostV6.map((address) => `    ip6 daddr ${address} reject`),
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * Give the network namespace of host pid `pid` internet egress: the rules first (so no packet ever
 * leaves unfiltered), then slirp4netns. Resolves with the slirp4netns process (kill it with the box);
 * it also exits by itself when e2b-local dies (its exit fd closes).
 */
export async function attachEgress(egress: Egress, pid: number): Promise<ChildProcess> {
  const nft = spawn(egress.nsenter, [`--net=/proc/${pid}/ns/net`, egress.nft, "-f", "-"], {
    stdio: ["pipe", "ignore", "pipe"],
  });
  let nftErrors = "";
  nft.stderr!.on("data", (chunk: Buffer) => {
    nftErrors += chunk.toString();
  });
  nft.stdin!.end(egressRules());
  const status = await new Promise<number | null>((resolve, reject) => {
    nft.once("error", reject);
    nft.once("exit", resolve);
  });
  if (status !== 0) throw new Error(`nft in the sandbox's namespace failed: ${nftErrors.trim()}`);
  const slirp = spawn(
    egress.slirp,
    [
      "--configure",
      "--mtu=65520",
      "--disable-host-loopback",
      "--enable-sandbox",
      "--enable-seccomp",
      "--ready-fd=3",
      "--exit-fd=4",
      String(pid),
      "tap0",
    ],
    { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  slirp.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ready = slirp.stdio[3]!;
  await new Promise<void>((resolve, reject) => {
    ready.once("data", () => resolve());
    slirp.once("exit", (code) => reject(new Error(`slirp4netns exited (${code}): ${stderr.trim()}`)));
    slirp.once("error", reject);
  });
  return slirp;
}
