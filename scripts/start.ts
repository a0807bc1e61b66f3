// `npm start`: the local stack on 127.0.0.1:8787 (e2b-local, D1 migrations, wrangler dev) until Ctrl+C.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomApiKey } from "e2b-local";
import { ROOT, startLocalStack } from "./local-stack.ts";

const DEV_VARS = join(ROOT, ".dev.vars");
const DEV_USER = join(ROOT, ".wrangler", "phoenix-dev-user.json");
const E2B_PORT = Number(process.env.E2B_LOCAL_PORT ?? 49982);
const PORT = Number(process.env.PORT ?? 8787);

function parseVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = line.match(/^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/);
    if (match) vars[match[1]!] = match[2]!;
  }
  return vars;
}

/** The public key e2b-local used to accept by default; a .dev.vars still holding it gets a random one. */
const OLD_PUBLIC_KEY = "e2b_10ca1000000000000000000000000000000000";

/**
 * .dev.vars with a random owner token, e2b-local's URLs and a random e2b-local API key, written once
 * and then kept (e2b-local is started with that key, so the Worker and e2b-local agree across restarts).
 */
async function devVars(): Promise<Record<string, string>> {
  if (existsSync(DEV_VARS)) {
    const text = await readFile(DEV_VARS, "utf8");
    const key = parseVars(text).E2B_API_KEY;
    if (!key || key === OLD_PUBLIC_KEY) {
      const line = `E2B_API_KEY="${randomApiKey()}"`;
      const kept = text.split("\n").filter((l) => !/^\s*E2B_API_KEY\s*=/.test(l));
      await writeFile(DEV_VARS, `${kept.join("\n").trimEnd()}\n${line}\n`);
      console.log("gave .dev.vars a random e2b-local API key (e2b-local no longer has a public default key)");
    }
    if (!parseVars(await readFile(DEV_VARS, "utf8")).WEBHOOK_SECRETS_KEY) {
      const current = await readFile(DEV_VARS, "utf8");
      await writeFile(
        DEV_VARS,
        `${current.trimEnd()}\nWEBHOOK_SECRETS_KEY="${randomBytes(32).toString("base64url")}"\n`,
      );
      console.log("gave .dev.vars a random WEBHOOK_SECRETS_KEY (webhook signing secrets are encrypted with it)");
    }
  } else {
    const url = `http://127.0.0.1:${E2B_PORT}`;
    await writeFile(
      DEV_VARS,
      [
        "# Written by `npm start` for local development; never commit it.",
        `OWNER_TOKEN="${randomBytes(24).toString("base64url")}"`,
        `E2B_API_URL="${url}"`,
        `E2B_SANDBOX_URL="${url}"`,
        `E2B_API_KEY="${process.env.E2B_LOCAL_API_KEY || randomApiKey()}"`,
        `WEBHOOK_SECRETS_KEY="${randomBytes(32).toString("base64url")}"`,
        "WEBHOOK_ALLOW_LOCAL_HTTP=true",
        "",
      ].join("\n"),
    );
    console.log("wrote .dev.vars (owner token, e2b-local URLs and API key)");
  }
  return parseVars(await readFile(DEV_VARS, "utf8"));
}

const vars = await devVars();
console.log("starting e2b-local, applying D1 migrations, starting wrangler dev…");
const verbose = process.env.PHOENIX_VERBOSE === "1";
const stack = await startLocalStack({
  port: PORT,
  e2bPort: E2B_PORT,
  ownerToken: vars.OWNER_TOKEN,
  e2bApiKey: process.env.E2B_LOCAL_API_KEY || vars.E2B_API_KEY,
  webhookSecretsKey: vars.WEBHOOK_SECRETS_KEY,
  log: (line) => {
    if (verbose || !line.startsWith("[wrangler]")) console.log(line);
  },
});

/** The dev user's key survives restarts (keys are stored hashed, so it is kept here, locally). */
async function devUserKey(): Promise<string> {
  if (existsSync(DEV_USER)) {
    const saved = JSON.parse(await readFile(DEV_USER, "utf8")) as { apiKey: string };
    const check = await fetch(`${stack.url}/api/v1/stats`, { headers: { Authorization: `Bearer ${saved.apiKey}` } });
    if (check.ok) return saved.apiKey;
  }
  const user = await stack.createUser("local developer");
  await mkdir(join(ROOT, ".wrangler"), { recursive: true });
  await writeFile(DEV_USER, JSON.stringify(user, null, 2));
  return user.apiKey;
}

const apiKey = await devUserKey();
console.log(`
Phoenix is running.
  URL          ${stack.url}
  Owner token  ${stack.ownerToken}
  User API key ${apiKey}

  curl -s ${stack.url}/api/v1/executions -H "Authorization: Bearer ${apiKey}" \\
    -H 'Content-Type: application/json' -d '{"language":"python","code":"print(6*7)"}'

Ctrl+C stops everything.`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping…");
    void stack.stop().then(() => process.exit(0));
  });
}
