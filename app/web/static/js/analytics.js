// `/analytics`: overview and four charts, all from /api/v1/analytics (Chart.js from vendor/).
import { api, listAll } from "./api.js";
import { $, chrome, describe, flash, h, label } from "./ui.js";

const user = chrome();
const { Chart } = window;
const charts = {};
const COLORS = { open: "#2563eb", in_progress: "#d97706", resolved: "#16a34a", closed: "#6b7280", created: "#2563eb", extra: "#9333ea" };

Chart.defaults.animation = false; // charts redraw on every scope change; no motion needed
Chart.defaults.maintainAspectRatio = false;

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(document.getElementById(id), config);
  document.getElementById(id).dataset.points = String(config.data.datasets.reduce((n, d) => n + d.data.length, 0));
}

function params(extra = {}) {
  const p = new URLSearchParams({ days: $("#a-days").value, ...extra });
  if ($("#a-project").value) p.set("project", $("#a-project").value);
  return p;
}

const get = async (path, extra) => (await api(`/analytics/${path}?${params(extra)}`)).data;

function overview(o) {
  const items = [["Projects", o.projects], ["Issues", o.issues.total], ["Open", o.issues.open], ["In progress", o.issues.in_progress],
    ["Resolved", o.issues.resolved], ["Closed", o.issues.closed], ["Comments", o.comments], ["Active users", o.active_users],
    ["Online now", o.online_users], ["Batches", o.batches], ["Operations", o.operations]];
  $("#overview").replaceChildren(...items.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, String(value ?? 0)))));
}

function createdVsResolved(data) {
  draw("chart-created", {
    type: "line",
    data: {
      labels: data.buckets.map((b) => b.start),
      datasets: [
        { label: "Created", data: data.buckets.map((b) => b.created), borderColor: COLORS.created, backgroundColor: COLORS.created },
        { label: "Resolved", data: data.buckets.map((b) => b.resolved), borderColor: COLORS.resolved, backgroundColor: COLORS.resolved },
        { label: "Created (cumulative)", data: data.buckets.map((b) => b.cumulative_created), borderColor: COLORS.created, borderDash: [4, 4], pointRadius: 0 },
        { label: "Resolved (cumulative)", data: data.buckets.map((b) => b.cumulative_resolved), borderColor: COLORS.resolved, borderDash: [4, 4], pointRadius: 0 },
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

function cycleTime(data) {
  const keys = ["mean", "p50", "p85", "p95", "p99"];
  $("#cycle-count").textContent = `(${data.count} resolved${data.count ? "" : ": nothing to measure yet"})`;
  draw("chart-cycle", {
    type: "bar",
    data: { labels: keys, datasets: [{ label: "Hours", data: keys.map((k) => data[k] ?? 0), backgroundColor: COLORS.extra }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, title: { display: true, text: "hours" } } } },
  });
}

function flow(data) {
  const statuses = ["closed", "resolved", "in_progress", "open"];
  draw("chart-flow", {
    type: "line",
    data: {
      labels: data.days.map((d) => d.date),
      datasets: statuses.map((s) => ({ label: label(s), data: data.days.map((d) => d[s]), fill: true, borderColor: COLORS[s], backgroundColor: `${COLORS[s]}99`, pointRadius: 0 })),
    },
    options: { scales: { y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

function bulk(data) {
  const b = data.batches;
  const rate = b.success_rate === null || b.success_rate === undefined ? "n/a" : `${Math.round(b.success_rate * 100)}%`;
  $("#bulk-summary").textContent = `(${b.count} batches, ${b.operations} operations, ${rate} succeeded, p95 ${b.p95_ms ?? "n/a"} ms)`;
  draw("chart-bulk", {
    type: "bar",
    data: {
      labels: data.trend.map((t) => t.date),
      datasets: [
        { label: "Operations", data: data.trend.map((t) => t.operations), backgroundColor: COLORS.created, yAxisID: "y" },
        { label: "Batches", data: data.trend.map((t) => t.batches), backgroundColor: COLORS.extra, yAxisID: "y1" },
      ],
    },
    options: { scales: { y: { beginAtZero: true, position: "left" }, y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, ticks: { precision: 0 } } } },
  });
}

async function load() {
  try {
    const [o, cvr, ct, fl, bo] = await Promise.all([get("overview"), get("issues/created-vs-resolved", { interval: $("#a-interval").value }),
      get("issues/cycle-time"), get("issues/flow"), get("bulk-operations")]);
    overview(o);
    createdVsResolved(cvr);
    cycleTime(ct);
    flow(fl);
    bulk(bo);
    document.body.dataset.loaded = "true";
  } catch (err) {
    flash(describe(err));
  }
}

async function start() {
  for (const p of await listAll("/projects")) $("#a-project").append(h("option", { value: p.key }, p.name));
  await load();
}

$("#scope").addEventListener("change", () => { delete document.body.dataset.loaded; load(); });
if (user) start();
