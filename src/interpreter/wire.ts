// The interpreter server's contexts through @e2b/code-interpreter (create, list, restart, remove),
// in Phoenix's terms: its languages (node, not javascript) and "not found" as false, not a throw.
import type { Context } from "@e2b/code-interpreter";
// biome-ignore lint/suspicious/noDeprecatedImports: @e2b/code-interpreter 2.8 throws exactly this for its server's 404s
import { NotFoundError } from "e2b";
import type { Language } from "../executions/types.ts";
import type { Sandbox } from "../sandbox/e2b.ts";

/** The languages that have stateful contexts. */
export const STATEFUL_LANGUAGES = ["python", "node"] as const;
export type StatefulLanguage = (typeof STATEFUL_LANGUAGES)[number];

/** A context of the sandbox's interpreter server. */
export interface CodeContext {
  id: string;
  language: StatefulLanguage;
  cwd: string;
}

/** What the server calls each language (E2B's servers name Node's kernel `javascript`). */
const SERVER_LANGUAGE: Record<StatefulLanguage, string> = { python: "python", node: "javascript" };

export function isStateful(language: Language): language is StatefulLanguage {
  return (STATEFUL_LANGUAGES as readonly string[]).includes(language);
}

function fromServer(context: Context): CodeContext | null {
  const name = context.language.trim().toLowerCase();
  const language = name === "python" ? "python" : name === "javascript" || name === "js" ? "node" : null;
  return language ? { id: context.id, language, cwd: context.cwd } : null;
}

export function toServerContext(context: CodeContext): Context {
  return { id: context.id, language: SERVER_LANGUAGE[context.language], cwd: context.cwd };
}

export async function createServerContext(
  sandbox: Sandbox,
  language: StatefulLanguage,
  cwd: string,
): Promise<CodeContext> {
  const created = await sandbox.createCodeContext({ language: SERVER_LANGUAGE[language], cwd });
  // The server answers in its own terms; the language asked for is the one that counts.
  return { id: created.id, language, cwd: created.cwd || cwd };
}

/** The server's contexts in languages Phoenix runs (others, e.g. bash, are not Phoenix's). */
export async function listServerContexts(sandbox: Sandbox): Promise<CodeContext[]> {
  return (await sandbox.listCodeContexts()).map(fromServer).filter((c): c is CodeContext => c !== null);
}

/** Restarts a context (its state is gone); false when the server has no such context. */
export async function restartServerContext(sandbox: Sandbox, id: string): Promise<boolean> {
  return notFoundAsFalse(() => sandbox.restartCodeContext(id));
}

/** Removes a context and its kernel; false when the server has no such context. */
export async function removeServerContext(sandbox: Sandbox, id: string): Promise<boolean> {
  return notFoundAsFalse(() => sandbox.removeCodeContext(id));
}

/** Whether the interpreter server answered 404 (no such context). */
export function isNotFound(err: unknown): boolean {
  return err instanceof NotFoundError;
}

async function notFoundAsFalse(fn: () => Promise<void>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
