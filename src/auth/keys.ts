// API keys: random, shown once, stored only as SHA-256; secrets compared in constant time.
const encoder = new TextEncoder();

export const API_KEY_PREFIX = "phx_";

/**
 * A new key: `phx_`, the user's id, `.`, then 32 random bytes base64url. Naming the user lets the Worker
 * send the key straight to that user's Durable Object to be checked (middleware/auth.ts); the id is not
 * a secret, the random part is. Keys issued before carry no user id and are checked in D1.
 */
export function generateApiKey(userId: string): string {
  return `${API_KEY_PREFIX}${userId}.${randomSecret()}`;
}

/** 32 random bytes (256 bits), base64url without padding: the secret part of keys, tickets and share tokens. */
export function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

const NAMED_KEY = /^phx_(usr_[0-9a-z]{1,40})\.[A-Za-z0-9_-]{43}$/;

/** The user a key names (keys from generateApiKey), or undefined for older keys and anything else. */
export function keyOwner(key: string): string | undefined {
  return NAMED_KEY.exec(key)?.[1];
}

export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(key));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What an owner sees of a key after it was issued: its start, through 6 characters of the random part. */
export function keyPrefix(key: string): string {
  const dot = key.indexOf(".");
  return key.slice(0, (dot === -1 ? API_KEY_PREFIX.length : dot + 1) + 6);
}

/** Constant-time equality of two secrets (hashing first makes the lengths equal). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}
