// Package installs in a conversation's sandbox: which specs each manager accepts, and the one
// shell command (every argument quoted) that installs them.
import { z } from "zod";
import { MAX_INSTALL_TIMEOUT_MS } from "../config.ts";
import type { ExecutionResult } from "../executions/types.ts";
import { resolveSandboxPath, SANDBOX_HOME } from "./files.ts";

export const PACKAGE_MANAGERS = ["pip", "npm"] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

const MAX_PACKAGES = 50;
const MAX_SPEC_LENGTH = 256;

// PEP 508 names (letters, digits, ._- inside), optional extras, then PEP 440-style specifiers
// such as `>=2.31,<3` or `==1.*`. No spaces, URLs or markers: those are where injection hides.
const PIP_NAME = "[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?";
const PIP_SPECIFIER = "(?:===|~=|==|!=|<=|>=|<|>)[A-Za-z0-9][A-Za-z0-9.*+!_-]*";
const PIP_SPEC = new RegExp(
  `^${PIP_NAME}(?:\\[${PIP_NAME}(?:,${PIP_NAME})*\\])?(?:${PIP_SPECIFIER}(?:,${PIP_SPECIFIER})*)?$`,
);

// npm names: lower case, URL-safe, optionally scoped (`@scope/name`), at most 214 characters;
// then an optional `@version`: a version, a range (`^1.2.0`, `>=1 <2`, `1.x || 2.x`) or a dist-tag.
const NPM_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const NPM_VERSION = /^[A-Za-z0-9^~<>=*.|+-][A-Za-z0-9^~<>=*.|+ -]{0,63}$/;

// A file or folder already in the sandbox (a wheel, an sdist, an npm tarball or package folder).
const LOCAL_PATH = /^(?:\/|\.\/)[A-Za-z0-9._+@/-]*$/;
const LOCAL_ROOTS = [`${SANDBOX_HOME}/`, "/tmp/"];

/** Whether a spec names a file or folder already in the sandbox (else it comes from a registry). */
export function isLocalSpec(spec: string): boolean {
  return spec.startsWith("/") || spec.startsWith("./");
}

/**
 * Why the install cannot work in a sandbox without internet access, or undefined when it can: specs that
 * name a registry package would only fail after minutes of DNS retries, so they are refused at once.
 */
export function offlineInstallProblem(manager: PackageManager, packages: string[]): string | undefined {
  const fromRegistry = packages.filter((spec) => !isLocalSpec(spec));
  if (fromRegistry.length === 0) return undefined;
  const registry = manager === "pip" ? "PyPI" : "the npm registry";
  const named = fromRegistry.map((spec) => `'${printable(spec)}'`).join(", ");
  return `packages: ${named} would come from ${registry}, but sandboxes have no internet access here (SANDBOX_INTERNET_ACCESS is not "true"). Install a file or folder already in the sandbox instead (e.g. './dist/pkg.whl' or './my-package'), or ask the operator to enable internet access.`;
}

/** What is wrong with one package spec for `manager`, or undefined when it is acceptable. */
export function packageSpecProblem(manager: PackageManager, spec: string): string | undefined {
  if (spec.length === 0) return "must not be empty";
  if (spec.length > MAX_SPEC_LENGTH) return `must be at most ${MAX_SPEC_LENGTH} characters`;
  if (isLocalSpec(spec)) return localPathProblem(spec);
  if (manager === "pip") {
    return PIP_SPEC.test(spec)
      ? undefined
      : `'${printable(spec)}' is not a pip requirement: a PEP 508 name with optional [extras] and version specifiers (e.g. 'requests>=2.31,<3'), or a path under ${SANDBOX_HOME} or /tmp`;
  }
  const at = spec.indexOf("@", 1);
  const name = at === -1 ? spec : spec.slice(0, at);
  const version = at === -1 ? undefined : spec.slice(at + 1);
  if (name.length > 214 || !NPM_NAME.test(name)) {
    return `'${printable(name)}' is not an npm package name: lower-case letters, digits, '-', '.', '_' or '~', optionally scoped as '@scope/name', at most 214 characters`;
  }
  if (version !== undefined && !NPM_VERSION.test(version)) {
    return `'${printable(version)}' is not an npm version, range or tag`;
  }
  return undefined;
}

function localPathProblem(spec: string): string | undefined {
  if (!LOCAL_PATH.test(spec) || spec.split("/").includes("..")) {
    return `'${printable(spec)}' is not an acceptable local package path: letters, digits and '._+@-/' only, no '..'`;
  }
  const resolved = resolveSandboxPath(spec);
  if (!LOCAL_ROOTS.some((root) => resolved.startsWith(root)))
    return `a local package must be under ${LOCAL_ROOTS.join(" or ")}`;
  return undefined;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 80);
}

export const installSchema = z
  .object({
    manager: z.enum(PACKAGE_MANAGERS, { error: `must be one of ${PACKAGE_MANAGERS.join(", ")}` }),
    packages: z
      .array(z.string({ error: "must be a string" }))
      .min(1, "must name at least one package")
      .max(MAX_PACKAGES),
    timeoutMs: z.number().int().positive().max(MAX_INSTALL_TIMEOUT_MS).optional(),
  })
  .superRefine((body, ctx) => {
    body.packages.forEach((spec, i) => {
      const problem = packageSpecProblem(body.manager, spec);
      if (problem) ctx.addIssue({ code: "custom", path: ["packages", i], message: problem });
    });
  });

export type InstallBody = z.infer<typeof installSchema>;

/** Single-quotes one shell word. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The install command, run from /home/user; local paths are passed resolved. */
export function installCommand(manager: PackageManager, packages: string[]): string {
  const args = packages
    .map((spec) => (isLocalSpec(spec) ? resolveSandboxPath(spec) : spec))
    .map(shellQuote)
    .join(" ");
  const install =
    manager === "pip"
      ? // pip falls back to ~/.local when site-packages is not writable; a venv's pip installs into it.
        `python3 -m pip install --disable-pip-version-check --no-input --progress-bar off -- ${args}`
      : `npm install --no-audit --no-fund --no-update-notifier -- ${args}`;
  return `cd ${SANDBOX_HOME} && ${install}`;
}

/** Environment for the installer: Debian marks its Python externally managed (PEP 668). */
const INSTALL_ENVS: Record<string, string> = { PIP_BREAK_SYSTEM_PACKAGES: "1", PIP_ROOT_USER_ACTION: "ignore" };

export interface InstallResult {
  /** The install's id in the history (`GET /api/v1/executions/:id`), where it is recorded as kind `install`. */
  id: string;
  manager: PackageManager;
  packages: string[];
  status: "succeeded" | "failed" | "timed_out" | "cancelled";
  exitCode: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
  sandboxId: string | null;
}

/** The shell command and environment that run an install (as a `shell` execution of kind `install`). */
export function installJob(body: InstallBody): { code: string; envs: Record<string, string> } {
  return { code: installCommand(body.manager, body.packages), envs: INSTALL_ENVS };
}

/** An install's finished run as the packages route answers it. A non-zero exit is a result, not an error. */
export function toInstallResult(body: InstallBody, run: ExecutionResult): InstallResult {
  // A run that ended in error was thrown, not returned.
  const status = run.status === "error" ? "failed" : run.status;
  return {
    id: run.id,
    manager: body.manager,
    packages: body.packages,
    status,
    exitCode: run.exitCode,
    stdout: run.stdout,
    stderr: run.stderr,
    truncated: run.truncated,
    durationMs: run.durationMs,
    sandboxId: run.sandboxId,
  };
}
