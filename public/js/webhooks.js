// The webhooks panel: add an endpoint (its signing secret shown once, with Copy), each endpoint's recent
// deliveries with their status and a Retry, a test event, and delete.
import { $, el } from "./dom.js";
import { announce, clearError, showApiError } from "./notice.js";
import { apiKey, client } from "./session.js";

/**
 * @typedef {{id: string, url: string, events: string[], description: string | null, createdAt: string,
 *   disabledAt: string | null, disabledReason: string | null}} Webhook
 * @typedef {{attempt: number, statusCode: number | null, error: string | null, durationMs: number, at: string}} Attempt
 * @typedef {{id: string, eventId: string, eventType: string, status: "pending" | "succeeded" | "failed",
 *   attemptCount: number, nextRetryAt: string | null, createdAt: string, attempts: Attempt[]}} Delivery
 */

/** Deliveries shown per endpoint. */
const RECENT = 5;

export async function refreshWebhooks() {
  if (!apiKey()) return;
  try {
    /** @type {{items: Webhook[]}} */
    const { items } = await client.json("/api/v1/webhooks");
    const lists = await Promise.all(
      items.map((hook) =>
        client
          .json(`/api/v1/webhooks/${encodeURIComponent(hook.id)}/deliveries?limit=${RECENT}`)
          .then((/** @type {{items: Delivery[]}} */ page) => page.items),
      ),
    );
    render(items, lists);
  } catch (e) {
    showApiError(e);
  }
}

/**
 * @param {Webhook[]} hooks
 * @param {Delivery[][]} deliveries
 */
function render(hooks, deliveries) {
  const list = $("webhook-list");
  list.replaceChildren();
  $("webhooks-empty").hidden = hooks.length > 0;
  $("webhooks-empty").textContent = "No endpoints yet.";
  hooks.forEach((hook, i) => {
    const head = el("div", { class: "webhook-head" }, [
      el("span", { class: "webhook-url", title: hook.url }, [hook.url]),
      el("span", { class: "webhook-events" }, [hook.events.join(", ")]),
    ]);
    const test = el("button", { type: "button", class: "button ghost small", "data-action": "test" }, ["Send test"]);
    test.addEventListener("click", () => void act(`/api/v1/webhooks/${enc(hook.id)}/test`, "POST", "Test event sent."));
    const remove = el("button", { type: "button", class: "button ghost small", "data-action": "delete" }, ["Delete"]);
    remove.addEventListener("click", () => void act(`/api/v1/webhooks/${enc(hook.id)}`, "DELETE", "Endpoint deleted."));
    const items = (deliveries[i] ?? []).map((d) => deliveryItem(hook, d));
    list.append(
      el("li", { class: "webhook", "data-webhook": hook.id }, [
        head,
        ...(hook.disabledAt ? [el("p", { class: "empty" }, [`Disabled: ${hook.disabledReason ?? ""}`])] : []),
        el("div", { class: "webhook-actions" }, [test, remove]),
        items.length
          ? el("ol", { class: "delivery-list", "aria-label": "Recent deliveries" }, items)
          : el("p", { class: "empty" }, ["No deliveries yet."]),
      ]),
    );
  });
}

/**
 * @param {Webhook} hook
 * @param {Delivery} d
 */
function deliveryItem(hook, d) {
  const last = d.attempts.at(-1);
  const outcome = last
    ? last.statusCode !== null
      ? `HTTP ${last.statusCode}`
      : (last.error ?? "no answer")
    : "queued";
  const retry = el("button", { type: "button", class: "button ghost small", "data-action": "retry" }, ["Retry"]);
  retry.addEventListener(
    "click",
    () =>
      void act(
        `/api/v1/webhooks/${enc(hook.id)}/deliveries/${enc(d.id)}/retry`,
        "POST",
        `Delivery of ${d.eventType} sent again.`,
      ),
  );
  const status = d.status === "succeeded" ? "succeeded" : d.status === "failed" ? "failed" : "running";
  return el("li", { class: "delivery", "data-delivery": d.id, "data-status": d.status }, [
    el("span", { class: `badge ${status}` }, [d.status]),
    el("span", { class: "delivery-event" }, [d.eventType]),
    el("span", { class: "delivery-outcome" }, [
      `${outcome} · ${d.attemptCount} attempt${d.attemptCount === 1 ? "" : "s"}`,
      d.nextRetryAt ? ` · next ${new Date(d.nextRetryAt).toLocaleTimeString()}` : "",
    ]),
    retry,
  ]);
}

/** @param {string} s */
const enc = (s) => encodeURIComponent(s);

/**
 * @param {string} path
 * @param {string} method
 * @param {string} done announced on success
 */
async function act(path, method, done) {
  try {
    await client.request(path, { method });
    clearError();
    announce(done);
  } catch (e) {
    showApiError(e);
  }
  await refreshWebhooks();
}

/** @param {SubmitEvent} event */
async function add(event) {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("webhook-url"));
  try {
    /** @type {Webhook & {secret: string}} */
    const hook = await client.json("/api/v1/webhooks", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ url: input.value.trim() }),
    });
    clearError();
    input.value = "";
    $("webhook-secret").textContent = hook.secret;
    $("webhook-secret-box").hidden = false;
    announce("Endpoint added. Copy its signing secret now: it is not shown again.");
  } catch (e) {
    showApiError(e);
  }
  await refreshWebhooks();
}

/** Back to the keyless state. */
export function resetWebhooks() {
  $("webhook-list").replaceChildren();
  $("webhook-secret-box").hidden = true;
  $("webhook-secret").textContent = "";
  $("webhooks-empty").hidden = false;
  $("webhooks-empty").textContent = "Enter an API key to see your webhooks.";
}

export function initWebhooks() {
  $("webhook-form").addEventListener("submit", (e) => void add(/** @type {SubmitEvent} */ (e)));
  $("webhooks-refresh").addEventListener("click", () => void refreshWebhooks());
  $("webhook-secret-copy").addEventListener("click", async () => {
    const secret = $("webhook-secret").textContent ?? "";
    try {
      await navigator.clipboard.writeText(secret);
      announce("Signing secret copied to the clipboard.");
    } catch {
      announce("Copy failed: select the secret and copy it by hand.");
    }
  });
  $("webhook-secret-done").addEventListener("click", () => {
    // Gone from the page for good: the API never shows it again.
    $("webhook-secret").textContent = "";
    $("webhook-secret-box").hidden = true;
  });
}
