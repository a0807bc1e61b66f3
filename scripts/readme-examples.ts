// The README's API examples as one runnable script, and the check of each documented `# →` answer.
// Used by test/e2e/readme.test.ts, so the examples cannot drift from what the API does.

/** One example command (continuation lines joined) and the answer the README documents for it. */
export interface Example {
  command: string;
  /** The text after `# →`, continuation comment lines joined; undefined when none is documented. */
  expected: string | undefined;
}

/** The ```sh blocks of the README between two headings (`from` inclusive, `to` exclusive). */
export function shellBlocks(readme: string, from: string, to: string): string[] {
  const start = readme.indexOf(from);
  const end = readme.indexOf(to, start);
  if (start < 0 || end < 0) throw new Error(`README: no section from '${from}' to '${to}'`);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

/** The commands of shell blocks, each with its documented answer. Plain comments are dropped. */
export function examples(blocks: string[]): Example[] {
  const result: Example[] = [];
  for (const block of blocks) {
    const lines = block.split("\n");
    let inAnswer = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const answer = line.match(/^# → ?(.*)$/);
      const last = result.at(-1);
      if (answer) {
        if (!last) throw new Error(`README: an answer with no command before it: ${line}`);
        last.expected = answer[1];
        inAnswer = true;
        continue;
      }
      if (inAnswer && /^#\s{2,}/.test(line) && last) {
        last.expected = `${last.expected}${line.replace(/^#\s+/, "")}`;
        continue;
      }
      inAnswer = false;
      if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
      let command = line;
      while (command.endsWith("\\") && i + 1 < lines.length) command = `${command}\n${lines[++i]}`;
      // A command that ends in an open quote continues on the next lines (a multi-line JSON body).
      while (unbalancedQuotes(command) && i + 1 < lines.length) command = `${command}\n${lines[++i]}`;
      result.push({ command, expected: undefined });
    }
  }
  return result;
}

function unbalancedQuotes(command: string): boolean {
  let single = false;
  let double = false;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i];
    if (ch === "\\" && !single) i++;
    else if (ch === "'" && !double) single = !single;
    else if (ch === '"' && !single) double = !double;
  }
  return single || double;
}

/** A bash script running every example in order, printing a marker line before each one's output. */
export function script(list: Example[], marker: string): string {
  return list.map((example, i) => `printf '\\n${marker}%d\\n' ${i}\n${example.command}`).join("\n");
}

/** The outputs of a script's run, by example index. */
export function outputs(stdout: string, marker: string, count: number): string[] {
  const parts = stdout.split(new RegExp(`\\n${marker}(\\d+)\\n`));
  const byIndex: string[] = new Array(count).fill("");
  for (let i = 1; i < parts.length; i += 2) byIndex[Number(parts[i])] = parts[i + 1] ?? "";
  return byIndex;
}

/**
 * Why `actual` does not match the documented answer, or undefined when it does. An answer starting with
 * `{` or `[` is a JSON pattern: every key shown must be there with a matching value (extra keys are fine;
 * an array's shown items must each match some item; a string with `…` matches any text in its place; a
 * number matches any number, since durations and sizes vary). Any other answer is text that must appear,
 * with `…` standing for anything.
 */
export function mismatch(expected: string, actual: string): string | undefined {
  const trimmed = expected.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    const pattern = jsonPattern(trimmed);
    if (pattern !== undefined) return jsonMismatch(pattern, actual);
  }
  const parts = trimmed.split("…").map((part) => part.trim());
  const regex = new RegExp(parts.map(escapeRegex).join("[\\s\\S]*?"));
  return regex.test(actual) ? undefined : `output does not contain ${JSON.stringify(trimmed)}: ${actual.slice(0, 500)}`;
}

/** The answer as a JSON pattern (`…` in place of elided members removed), or undefined when it is text. */
function jsonPattern(text: string): unknown {
  try {
    return JSON.parse(text.replace(/,?\s*…\s*(?=[}\]])/g, "").replace(/([{[])\s*…\s*,?/g, "$1"));
  } catch {
    return undefined; // e.g. the first bytes of a JSON file, shown as text
  }
}

function jsonMismatch(pattern: unknown, actual: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(actual);
  } catch {
    return `not JSON: ${actual.slice(0, 500)}`;
  }
  return differs(pattern, value, "$");
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function differs(pattern: unknown, value: unknown, where: string): string | undefined {
  if (typeof pattern === "number") return typeof value === "number" ? undefined : `${where}: expected a number`;
  if (typeof pattern === "string") {
    if (typeof value !== "string") return `${where}: expected a string, got ${JSON.stringify(value)}`;
    const regex = new RegExp(`^${pattern.split("…").map(escapeRegex).join("[\\s\\S]*")}$`);
    return regex.test(value)
      ? undefined
      : `${where}: expected ${JSON.stringify(pattern)}, got ${JSON.stringify(value)}`;
  }
  if (Array.isArray(pattern)) {
    if (!Array.isArray(value)) return `${where}: expected an array`;
    for (const [i, item] of pattern.entries()) {
      if (!value.some((candidate) => differs(item, candidate, where) === undefined)) {
        return `${where}[${i}]: no item matches ${JSON.stringify(item)} in ${JSON.stringify(value).slice(0, 500)}`;
      }
    }
    return undefined;
  }
  if (pattern !== null && typeof pattern === "object") {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return `${where}: expected an object`;
    for (const [key, item] of Object.entries(pattern)) {
      if (!(key in value)) return `${where}.${key}: missing`;
      const problem = differs(item, (value as Record<string, unknown>)[key], `${where}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return pattern === value ? undefined : `${where}: expected ${JSON.stringify(pattern)}, got ${JSON.stringify(value)}`;
}
