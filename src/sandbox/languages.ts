// How each language's code becomes one command in the sandbox.
import type { Language } from "../executions/types.ts";

/** Linux caps one environment string at 128 KiB; bigger code goes in a file first. */
export const MAX_INLINE_CODE_BYTES = 96 * 1024;
export const CODE_ENV = "PHOENIX_CODE";

const INTERPRETER: Record<Language, string> = {
  python: "python3 -u",
  node: "node",
  shell: "bash",
};

const EXTENSION: Record<Language, string> = { python: "py", node: "js", shell: "sh" };

/** The command for code passed inline through `$PHOENIX_CODE` (one round trip). */
export function inlineCommand(language: Language): string {
  const flag = language === "node" ? "-e" : "-c";
  return `exec ${INTERPRETER[language]} ${flag} "$${CODE_ENV}"`;
}

/** The command for code already written to `path` in the sandbox; the file goes when it ends. */
export function fileCommand(language: Language, path: string): string {
  return `${INTERPRETER[language]} '${path}'; status=$?; rm -f '${path}'; exit $status`;
}

export function codeFilePath(language: Language, executionId: string): string {
  return `/tmp/phoenix-${executionId}.${EXTENSION[language]}`;
}
