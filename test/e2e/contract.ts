// The contract check of test/e2e/contract.test.ts: every response the running stack gives is matched to
// its operation in the served OpenAPI document and validated (status, media type, JSON body) with Ajv.
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ValidateFunction } from "ajv";

type Json = Record<string, any>;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  /** Literal characters of the template: the most specific template wins when several match. */
  specificity: number;
  op: Json;
}

/** What the contract test saw: per operation id, the statuses it validated. */
export type Seen = Map<string, Set<number>>;

export class Contract {
  readonly seen: Seen = new Map();
  private readonly operations: Operation[] = [];
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<object, ValidateFunction>();

  readonly document: Json;

  constructor(document: Json) {
    this.document = document;
    for (const [template, ops] of Object.entries(document.paths as Record<string, Json>)) {
      // `{name}` of the volume's files and `{path}` of artifacts span slashes; other parameters are one segment.
      const source = template
        .split(/(\{[^}]+\})/)
        .map((part) =>
          part.startsWith("{")
            ? part === "{name}" || part === "{path}"
              ? "(.+)"
              : "([^/]+)"
            : part.replace(/[.*+?^$()|[\]\\]/g, "\\$&"),
        )
        .join("");
      for (const [method, op] of Object.entries(ops)) {
        this.operations.push({
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^${source}$`),
          specificity: template.replace(/\{[^}]+\}/g, "").length,
          op,
        });
      }
    }
  }

  operationIds(): string[] {
    return this.operations.map((o) => o.op.operationId as string);
  }

  /** Validates one real response against the document; throws what is wrong. Reads a clone. */
  async check(method: string, url: string, response: Response): Promise<void> {
    const path = new URL(url).pathname;
    const candidates = this.operations
      .filter((o) => o.method === method.toUpperCase() && o.pattern.test(path))
      .sort((a, b) => b.specificity - a.specificity);
    const operation = candidates[0];
    if (!operation) throw new Error(`${method} ${path}: no operation in the OpenAPI document`);
    const where = `${method} ${operation.template} → ${response.status}`;
    const spec = operation.op.responses[String(response.status)];
    if (!spec) throw new Error(`${where}: status not documented (has ${Object.keys(operation.op.responses)})`);
    const text = await response.clone().text();
    const content = spec.content as Json | undefined;
    if (!content) {
      if (text !== "") throw new Error(`${where}: documented without a body, got ${text.slice(0, 200)}`);
    } else {
      const type = response.headers.get("Content-Type")?.split(";")[0]?.trim() ?? "";
      const media = content[type] ?? content["*/*"];
      if (!media) throw new Error(`${where}: Content-Type ${type} not documented (has ${Object.keys(content)})`);
      if (type === "application/json") this.validate(where, media.schema, JSON.parse(text));
    }
    const id = operation.op.operationId as string;
    this.seen.set(id, (this.seen.get(id) ?? new Set()).add(response.status));
  }

  private validate(where: string, schema: Json, body: unknown): void {
    let validator = this.compiled.get(schema);
    if (!validator) {
      // The schema's `#/components/...` refs resolve against a root that carries the document's components.
      validator = this.ajv.compile({ ...schema, components: this.document.components });
      this.compiled.set(schema, validator);
    }
    if (!validator(body)) {
      throw new Error(
        `${where}: body does not match the document: ${this.ajv.errorsText(validator.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
      );
    }
  }

  /** A `fetch` that checks every response it returns (for openapi-fetch's `fetch` option, or direct calls). */
  fetch = async (input: Request | string, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const response = await fetch(request);
    await this.check(request.method, request.url, response);
    return response;
  };
}
