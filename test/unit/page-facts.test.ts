// What the page takes from src/ (public/js/facts.js, public/_headers) is exactly what scripts/page-facts.ts
// generates today, and facts.js behaves as the API does: run `npm run facts` when this fails.
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { FACTS_PATH, HEADERS_PATH, pageFacts, pageHeaders } from "../../scripts/page-facts.ts";
import { ERROR_STATUS } from "../../src/error-codes.ts";
import { LANGUAGES } from "../../src/executions/types.ts";
import { conversationIdSchema } from "../../src/validation.ts";

interface PageFacts {
  LANGUAGES: readonly string[];
  CONVERSATION_ID_PATTERN: RegExp;
  CONVERSATION_ID_RULE: string;
  ERROR_STATUS: Record<string, number>;
}

// A non-literal specifier: the module is plain JS for the browser, typed here by hand.
const loadFacts = async () => (await import(pathToFileURL(FACTS_PATH).href)) as PageFacts;

describe("public/js/facts.js", () => {
  it("is what `npm run facts` generates from src/ (commit the regenerated file)", async () => {
    expect(await readFile(FACTS_PATH, "utf8")).toBe(pageFacts());
  });

  it("carries the API's languages and its whole error table", async () => {
    const facts = await loadFacts();
    expect(facts.LANGUAGES).toEqual(LANGUAGES);
    expect(facts.ERROR_STATUS).toEqual(ERROR_STATUS);
  });

  it.each([
    "default",
    "a",
    "e2e-busy",
    "A.b_c-9",
    "x".repeat(64),
    "x".repeat(65),
    "",
    "-lead",
    ".hidden",
    "bad id!",
    "é",
    "a/b",
    "line\nbreak",
  ])("judges the conversation id %j as the API does", async (id) => {
    const facts = await loadFacts();
    expect(facts.CONVERSATION_ID_PATTERN.test(id)).toBe(conversationIdSchema.safeParse(id).success);
  });

  it("tells a bad conversation id in the API's words", async () => {
    const facts = await loadFacts();
    expect(conversationIdSchema.safeParse("bad id!").error?.issues[0]?.message).toBe(facts.CONVERSATION_ID_RULE);
  });
});

describe("public/_headers", () => {
  it("is what `npm run facts` generates from src/middleware/security-headers.ts", async () => {
    expect(await readFile(HEADERS_PATH, "utf8")).toBe(pageHeaders());
  });
});
