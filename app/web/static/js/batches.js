// `/batches`: submit operations (JSON or CSV), follow batch.progress live, show the results.
import { api, listAll } from "./api.js";
import { operationsFromCsv } from "./csv.js";
import { connect, Room } from "./realtime.js";
import { $, chrome, describe, flash, h, label, showError, when } from "./ui.js";

const user = chrome();
const FINAL = ["succeeded", "partially_succeeded", "failed", "cancelled"];
let current = null; // {id, room}
let results = [];

async function readOperations() {
  const file = $("#ops-csv").files[0];
  if (file) return { operations: operationsFromCsv(await file.text()) };
  const text = $("#ops-json").value.trim();
  if (!text) throw new Error("Paste operations as JSON or choose a CSV file.");
  let parsed;
  try { parsed = JSON.parse(text); } catch (err) { throw new Error(`That is not valid JSON: ${err.message}`); }
  return Array.isArray(parsed) ? { operations: parsed } : parsed;
}

function progress({ done = 0, total = 0, succeeded = 0, failed = 0, status }) {
  const percent = total ? Math.floor((done * 100) / total) : (FINAL.includes(status) ? 100 : 0);
  $("#progress").setAttribute("aria-valuenow", percent);
  $("#progress-bar").style.width = `${percent}%`;
  $("#progress-text").textContent = `${percent}% · ${done} of ${total} done · ${succeeded} succeeded · ${failed} failed${status ? ` · ${label(status)}` : ""}`;
}

function reason(error) {
  if (!error) return "";
  if (typeof error === "string") return error;
  const text = error.detail || error.message || error.title;
  const fields = error.errors ? Object.entries(error.errors).map(([f, m]) => `${f}: ${[].concat(m).join(" ")}`).join("; ") : "";
  return [text, fields].filter(Boolean).join(" — ") || JSON.stringify(error);
}

function renderResults() {
  const only = $("#only-failed").checked;
  $("#result-rows").replaceChildren(...results.filter((r) => !only || r.status === "failed").map((r) => h("tr", { class: `result-${r.status}` },
    h("td", {}, String(r.index)), h("td", {}, r.status), h("td", {}, r.id ?? ""), h("td", {}, reason(r.error)))));
}

async function finished(batch) {
  if (!current || batch.id !== current.id || current.done) return;
  current.done = true;
  progress(batch);
  $("#cancel").hidden = true;
  results = await listAll(`/batches/${batch.id}/results`, 100000);
  $("#results").hidden = false;
  renderResults();
  loadHistory();
}

async function follow(id) {
  if (current && current.room) current.room.close();
  current = { id, done: false, shown: 0 };
  results = [];
  $("#current").hidden = false;
  $("#results").hidden = true;
  $("#batch-id").textContent = `#${id}`;
  history.replaceState(null, "", `#batch=${id}`);
  const socket = connect();
  current.room = new Room(socket, `batch:${id}`, {
    // After joining, read the record: a batch that ended before the join sends nothing more.
    onJoined: async () => {
      const batch = (await api(`/batches/${id}`)).data;
      if (current.id !== id) return;
      if (FINAL.includes(batch.status)) finished(batch); else { onProgress(batch); $("#cancel").hidden = false; }
    },
    onRefused: (error) => flash(`Live progress is off: ${error}.`),
  });
}

// Only forward: a record fetched before a later batch.progress must not move the bar back.
function onProgress(data) {
  if (!current || data.id !== current.id || current.done || (data.done ?? 0) < current.shown) return;
  current.shown = data.done ?? 0;
  progress(data);
}

async function loadHistory() {
  const { data } = await api("/batches?limit=20");
  $("#history").replaceChildren(...data.items.map((b) => h("tr", {},
    h("td", {}, h("a", { href: `#batch=${b.id}`, onclick: (e) => { e.preventDefault(); follow(b.id); } }, `#${b.id}`)),
    h("td", {}, label(b.status)), h("td", {}, `${b.mode}${b.dry_run ? " (dry run)" : ""}`),
    h("td", {}, `${b.done} / ${b.total}`), h("td", {}, String(b.failed)), h("td", {}, when(b.created_at)))));
}

$("#batch-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("#batch-error");
  error.hidden = true;
  let body;
  try {
    body = await readOperations();
  } catch (err) {
    return showError(error, err.message);
  }
  body = { mode: $("#mode").value, dry_run: $("#dry-run").checked, ...body };
  try {
    const { data } = await api("/batches", { method: "POST", body });
    progress({ total: data.total, status: data.status });
    follow(data.id);
    loadHistory();
  } catch (err) {
    showError(error, err);
  }
});

$("#cancel").addEventListener("click", async () => {
  try { await api(`/batches/${current.id}/cancel`, { method: "POST" }); } catch (err) { flash(describe(err)); }
});
$("#only-failed").addEventListener("change", renderResults);

if (user) {
  const socket = connect();
  socket.on("batch.progress", onProgress);
  socket.on("batch.finished", finished);
  loadHistory().catch((err) => flash(describe(err)));
  const linked = /^#batch=(\d+)$/.exec(location.hash);
  if (linked) follow(Number(linked[1]));
}
