// Whom an envd request acts as inside the sandbox: `user` (uid 1000, the default) or `root`, named
// by the Basic auth username (or /files' `username` parameter).
import type { IncomingMessage } from "node:http";
import { rpcError } from "./errors.ts";
import { USER_UID } from "./view.ts";

export function userFromAuth(req: IncomingMessage, fallback?: string | null): string {
  if (fallback) return fallback;
  const auth = req.headers.authorization;
  if (auth && /^basic /i.test(auth)) {
    const decoded = Buffer.from(auth.slice(6).trim(), "base64").toString("utf8");
    const name = decoded.split(":")[0];
    if (name) return name;
  }
  return "user";
}

/** The uid of a sandbox user name, null for any other name. */
export function uidOfName(user: string): number | null {
  if (user === "user") return USER_UID;
  if (user === "root") return 0;
  return null;
}

/** The uid of a sandbox user name; a Connect `unauthenticated` error for any other name. */
export function uidOf(user: string): number {
  const uid = uidOfName(user);
  if (uid === null) throw rpcError("unauthenticated", `invalid username: '${user}'`);
  return uid;
}

export const homeOf = (uid: number) => (uid === 0 ? "/root" : "/home/user");
