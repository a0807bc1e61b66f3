// Signing secrets: made (`whsec_` + base64 of 32 random bytes, Standard Webhooks' format), kept in D1
// only encrypted (AES-256-GCM under a key derived from the WEBHOOK_SECRETS_KEY Worker secret, bound
// to the endpoint's id), and used to sign each attempt (HMAC-SHA256 of "id.timestamp.body").
import { ApiError } from "../errors.ts";

const PREFIX = "whsec_";
/** The spec asks for 24 to 64 random bytes. */
const SECRET_BYTES = 32;
const encoder = new TextEncoder();

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** A fresh signing secret, shown to its owner once. */
export function newSigningSecret(): string {
  return PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** The AES key per WEBHOOK_SECRETS_KEY value (derived once per isolate). */
const keys = new Map<string, Promise<CryptoKey>>();

function sealingKey(env: Env): Promise<CryptoKey> {
  const material = env.WEBHOOK_SECRETS_KEY;
  if (!material) {
    throw new ApiError(
      "internal_error",
      "Webhooks are not configured: the WEBHOOK_SECRETS_KEY secret is missing (see the README's Deploying).",
    );
  }
  let key = keys.get(material);
  if (!key) {
    key = (async () => {
      const base = await crypto.subtle.importKey("raw", encoder.encode(material), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode("phoenix webhook secrets v1") },
        base,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    keys.set(material, key);
  }
  return key;
}

/** Encrypts a signing secret for storage; the endpoint id is authenticated with it, so it cannot be moved. */
export async function sealSecret(env: Env, webhookId: string, secret: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(webhookId) },
    await sealingKey(env),
    encoder.encode(secret),
  );
  return `v1.${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
}

export async function openSecret(env: Env, webhookId: string, sealed: string): Promise<string> {
  const [version, iv, data] = sealed.split(".");
  if (version !== "v1" || !iv || !data) throw new Error(`webhook ${webhookId}: unknown secret format`);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64(iv), additionalData: encoder.encode(webhookId) },
    await sealingKey(env),
    fromBase64(data),
  );
  return new TextDecoder().decode(plain);
}

/** The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under the secret's bytes. */
export async function signPayload(secret: string, msgId: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.slice(PREFIX.length)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${msgId}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}
