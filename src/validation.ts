// zod validation for routes: one schema validates and types the input; failures name the field.
import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { ApiError } from "./errors.ts";
import { VALIDATED } from "./openapi/registry.ts";

export function describeIssues(error: { issues: readonly z.core.$ZodIssue[] }): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.map(String).join(".") : "body"}: ${issue.message}`)
    .join("; ");
}

/** `application/json`, `application/<x>+json`, with or without parameters (what hono's validator parses). */
const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * `zValidator` whose failures become `400 invalid_request` naming the field. A JSON body sent under
 * another Content-Type is refused as such (hono would validate an empty object and blame the fields).
 * The middleware carries its target and schema, from which the OpenAPI document describes the request.
 */
export function validate<T extends z.ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) {
  const validator = zValidator(target, schema, (result) => {
    if (!result.success) throw new ApiError("invalid_request", describeIssues(result.error));
  });
  const tag = { [VALIDATED]: { target, schema } };
  if (target !== "json") return Object.assign(validator, tag);
  const checked = (async (c, next) => {
    const type = c.req.header("Content-Type")?.split(";")[0]?.trim() ?? "";
    if (!JSON_TYPE.test(type)) {
      throw new ApiError("invalid_request", `Content-Type: must be application/json (got '${type.slice(0, 100)}')`);
    }
    return validator(c, next);
  }) as typeof validator;
  return Object.assign(checked, tag);
}

/** A conversation names a user's sandbox; clients never name sandbox ids. */
export const conversationIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    "must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit",
  );

/** The `:conversationId` route parameter. */
export const conversationParam = z.object({ conversationId: conversationIdSchema });

/** Refuses a request body over `maxSize` bytes with 413, before it is read. */
export function jsonBodyLimit(maxSize: number) {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError("payload_too_large", `Request body must be at most ${maxSize} bytes.`);
    },
  });
}
