// GET /api/openapi.json (the contract, built from the app's own routes and schemas) and GET /docs (an
// interactive reference page whose scripts all come from this Worker's assets: it works offline).
import { Hono } from "hono";
import { buildDocument, OPENAPI_PATH } from "../openapi/document.ts";
import { doc, json } from "../openapi/registry.ts";
import { DOCS_PAGE_PATH } from "../middleware/security-headers.ts";
import type { AppEnv } from "../types.ts";
import { z } from "zod";

/** Copied from @scalar/api-reference by scripts/vendor.ts (`npm ci` runs it), served as a static asset. */
export const SCALAR_BUNDLE = "/vendor/scalar/standalone.js";

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Phoenix · API reference</title>
  <link rel="icon" href="/favicon.svg" type="image/svg+xml">
</head>
<body>
  <div id="reference" data-document="${OPENAPI_PATH}"></div>
  <script src="${SCALAR_BUNDLE}"></script>
  <script src="/js/docs.js"></script>
</body>
</html>
`;

/** The document is the same for every request of an isolate: built once, on first use. */
// biome-ignore lint/suspicious/noExplicitAny: any app, whatever its env and schema types.
export function docsRoutes(getApp: () => Hono<any, any, any>) {
  let document: Record<string, unknown> | undefined;
  return new Hono<AppEnv>()
    .get(
      OPENAPI_PATH,
      doc({
        operationId: "getOpenApiDocument",
        summary: "This OpenAPI 3.1 document",
        tags: ["meta"],
        auth: "none",
        responses: { 200: json(z.looseObject({ openapi: z.literal("3.1.0") }), "The document.") },
        errors: [],
      }),
      (c) => {
        document ??= buildDocument(getApp());
        return c.json(document);
      },
    )
    .get(
      DOCS_PAGE_PATH,
      doc({
        operationId: "getDocsPage",
        summary: "The interactive API reference (HTML)",
        tags: ["meta"],
        auth: "none",
        responses: { 200: { description: "An HTML page.", body: { kind: "text", contentType: "text/html" } } },
        errors: [],
      }),
      // Its CSP (DOCS_SECURITY_HEADERS) is set by the security-headers middleware, like every policy.
      (c) => c.html(DOCS_HTML),
    );
}
