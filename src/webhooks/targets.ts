// Where webhooks may be sent: https URLs on public addresses. WEBHOOK_ALLOW_LOCAL_HTTP="true" (local
// development, tests) also allows http:// and loopback. Hostnames are not resolved here: a Worker's
// fetch goes out through Cloudflare's network, which does not reach private networks anyway; this
// check refuses the addresses one can write down.
import { ApiError } from "../errors.ts";

/** The `url` of an endpoint, checked; a 400 naming `url` otherwise. */
export function checkTarget(env: Env, raw: string): string {
  const allowLocal = env.WEBHOOK_ALLOW_LOCAL_HTTP === "true";
  const refuse = (why: string): never => {
    throw new ApiError("invalid_request", `url: ${why}`);
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse("must be an absolute URL, e.g. https://example.com/hooks");
  }
  if (url.username || url.password) refuse("must not contain credentials");
  const host = url.hostname.toLowerCase();
  const loopback = isLoopback(host);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && allowLocal)) {
    refuse(allowLocal ? "must be an http or https URL" : "must be an https URL");
  }
  if (loopback) {
    if (!allowLocal) refuse("must not point to a loopback address");
  } else if (url.protocol === "http:") {
    refuse("http is only allowed to loopback (127.0.0.1, localhost) in local development; use https");
  } else if (isPrivateAddress(host)) {
    refuse("must not point to a private, loopback or link-local address");
  } else if (!host.includes(".") && !host.startsWith("[")) {
    refuse("must name a public host (a fully qualified domain name or a public IP address)");
  }
  return url.href;
}

function isLoopback(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = ipv4(host);
  if (v4) return v4[0] === 127;
  const v6 = ipv6(host);
  if (!v6) return false;
  const mapped = mappedV4(v6);
  if (mapped) return mapped[0] === 127;
  return v6.slice(0, 7).every((g) => g === 0) && v6[7] === 1;
}

/** Private (RFC 1918, unique-local), shared, link-local, unspecified, multicast and reserved ranges. */
function isPrivateAddress(host: string): boolean {
  if (host.endsWith(".local") || host.endsWith(".internal")) return true;
  const v4 = ipv4(host);
  if (v4) return privateV4(v4);
  const v6 = ipv6(host);
  if (!v6) return false;
  const mapped = mappedV4(v6);
  if (mapped) return privateV4(mapped);
  const first = v6[0]!;
  return (
    v6.every((g) => g === 0) ||
    (first & 0xfe00) === 0xfc00 || // fc00::/7 unique local
    (first & 0xffc0) === 0xfe80 || // fe80::/10 link-local
    (first & 0xff00) === 0xff00 // multicast
  );
}

function privateV4([a, b]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b! >= 64 && b! <= 127) || // shared address space (carrier-grade NAT)
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b! >= 16 && b! <= 31) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a! >= 224 // multicast, reserved, broadcast
  );
}

/** The URL parser has already normalised IPv4 forms (`2130706433`, `0x7f.1`) to dotted quads. */
function ipv4(host: string): number[] | null {
  const m = host.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  return m ? m.slice(1).map(Number) : null;
}

/** Eight 16-bit groups of a bracketed IPv6 host (as the URL parser writes it), or null. */
function ipv6(host: string): number[] | null {
  if (!host.startsWith("[") || !host.endsWith("]")) return null;
  const [head = "", tail] = host.slice(1, -1).split("::");
  const parse = (s: string) => (s ? s.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g)) ? groups : null;
}

/** The IPv4 address inside an IPv4-mapped IPv6 one (`::ffff:a.b.c.d`). */
function mappedV4(groups: number[]): number[] | null {
  if (!groups.slice(0, 5).every((g) => g === 0) || groups[5] !== 0xffff) return null;
  return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff];
}
