// `/projects/{KEY}/webhooks` (maintainers): add webhooks, see each one's deliveries, redeliver.
import { api, listAll } from "./api.js";
import { $, chrome, flash, h, showError, when } from "./ui.js";

chrome();
const key = location.pathname.split("/")[2];
let shown = null; // the webhook whose deliveries are open
let refresh = null; // the next look at its pending deliveries

async function loadWebhooks() {
  const hooks = await listAll(`/projects/${key}/webhooks`, 200);
  $("#webhook-rows").replaceChildren(...hooks.map((hook) => h("tr", {},
    h("td", {}, hook.url), h("td", {}, hook.events.join(", ")),
    h("td", {}, hook.active ? "yes" : `no${hook.disabled_reason ? ` (${hook.disabled_reason})` : ""}`),
    h("td", {},
      h("button", { type: "button", onclick: () => showDeliveries(hook) }, "Deliveries"), " ",
      h("button", { type: "button", onclick: () => ping(hook) }, "Ping")))));
}

async function ping(hook) {
  try {
    await api(`/webhooks/${hook.id}/ping`, { method: "POST" });
    flash("Ping queued.");
    if (shown && shown.id === hook.id) showDeliveries(hook);
  } catch (error) { flash(error.describe()); }
}

async function showDeliveries(hook) {
  shown = hook;
  $("#deliveries").hidden = false;
  $("#deliveries-url").textContent = hook.url;
  $("#delivery-detail").hidden = true;
  const { data } = await api(`/webhooks/${hook.id}/deliveries?limit=50`);
  $("#delivery-rows").replaceChildren(...data.items.map((d) => h("tr", { class: `delivery-${d.status}` },
    h("td", {}, h("button", { type: "button", class: "link", onclick: () => detail(d.id) }, `#${d.id}`)),
    h("td", {}, d.event_type), h("td", {}, d.status), h("td", {}, String(d.attempts)),
    h("td", {}, d.response_status ? String(d.response_status) : (d.error || "")), h("td", {}, when(d.created_at)),
    h("td", {}, h("button", { type: "button", onclick: () => redeliver(d.id) }, `Redeliver #${d.id}`)))));
  // Pending ones change on their own: look again while the log is open.
  if (data.items.some((d) => d.status === "pending")) {
    clearTimeout(refresh);
    refresh = setTimeout(() => { if (shown === hook) showDeliveries(hook); }, 2000);
  }
}

async function detail(id) {
  const { data } = await api(`/webhooks/deliveries/${id}`);
  const attempts = data.attempt_log.map((a) => `Attempt ${a.number} at ${a.at}: ${a.response_status ?? a.error}\n`
    + `${Object.entries(a.request_headers).map(([n, v]) => `${n}: ${v}`).join("\n")}\n\n${a.request_body}\n\n`
    + `Answer (first 4 KB):\n${a.response_body ?? ""}`);
  $("#delivery-detail").textContent = attempts.join("\n\n") || "Not attempted yet.";
  $("#delivery-detail").hidden = false;
}

async function redeliver(id) {
  try {
    await api(`/webhooks/deliveries/${id}/redeliver`, { method: "POST" });
    flash(`Delivery #${id} queued again.`);
    showDeliveries(shown);
  } catch (error) { flash(error.describe()); }
}

$("#webhook-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#webhook-error").hidden = true;
  const events = $("#webhook-events").value.split(",").map((e) => e.trim()).filter(Boolean);
  const body = { url: $("#webhook-url").value.trim(), description: $("#webhook-description").value };
  if (events.length) body.events = events;
  try {
    const { data } = await api(`/projects/${key}/webhooks`, { method: "POST", body });
    $("#secret").textContent = data.secret;
    $("#secret-box").hidden = false;
    event.target.reset();
    loadWebhooks();
  } catch (error) { showError($("#webhook-error"), error); }
});

loadWebhooks().catch((error) => flash(error.describe ? error.describe() : error.message));
