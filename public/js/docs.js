// The /docs page: mounts the vendored API reference (public/vendor/scalar) on this deployment's OpenAPI
// document. A file of its own because the page's CSP allows no inline script. (The mount point is not
// `#api-reference`: the bundle would mount itself there, with its defaults, before this runs.)

/** @typedef {{ createApiReference(selector: string, config: Record<string, unknown>): unknown }} ScalarGlobal */

const scalar = /** @type {{ Scalar?: ScalarGlobal }} */ (/** @type {unknown} */ (globalThis)).Scalar;
const mount = document.getElementById("reference");
if (scalar && mount) {
  scalar.createApiReference("#reference", {
    url: mount.dataset.document,
    // Everything from this origin: no web fonts, no telemetry, no proxy.
    withDefaultFonts: false,
    telemetry: false,
    hideClientButton: true,
    showDeveloperTools: "never",
    agent: { disabled: true },
    mcp: { disabled: true },
  });
} else if (mount) {
  mount.textContent = "The API reference bundle is missing: run `npm ci` (it copies it into public/vendor/).";
}
