// `/admin`: backups (create, verify, restore with a typed confirmation, live status), users, audit.
import { api, listAll } from "./api.js";
import { connect } from "./realtime.js";
import { $, chrome, describe, flash, h, showError, when } from "./ui.js";

const user = chrome();
const names = new Map(); // user id → name, for the audit log
let auditCursor = null;

function size(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB"];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u += 1; }
  return `${n.toFixed(u ? 1 : 0)} ${units[u]}`;
}

const rowCount = (tables) => Object.values(tables || {}).reduce((a, b) => a + b, 0);

function backupRow(b) {
  const busy = b.status === "queued" || b.status === "running";
  return h("tr", { id: `backup-${b.id}`, dataset: { status: b.status } },
    h("td", {}, h("code", {}, b.id)),
    h("td", {}, h("span", { class: `pill backup-${b.status}` }, b.status), b.error ? h("div", { class: "error" }, b.error) : null),
    h("td", {}, when(b.created_at)), h("td", {}, size(b.size_bytes)), h("td", {}, String(rowCount(b.tables))),
    h("td", {}, b.note || ""), h("td", {}, when(b.verified_at)),
    h("td", {},
      h("button", { type: "button", disabled: busy, onclick: () => verify(b.id), "aria-label": `Verify ${b.id}` }, "Verify"), " ",
      h("button", { type: "button", disabled: busy, onclick: () => askRestore(b.id), "aria-label": `Restore ${b.id}` }, "Restore")));
}

function putBackup(b) {
  const row = backupRow(b);
  const old = document.getElementById(`backup-${b.id}`);
  if (old) old.replaceWith(row);
  else loadBackups();
}

async function loadBackups() {
  const items = await listAll("/admin/backups", 200);
  $("#backup-rows").replaceChildren(...items.map(backupRow));
}

// Follow a job to its end (the backup.finished event usually comes first).
async function waitForJob(jobId, what) {
  for (;;) {
    const job = (await api(`/admin/jobs/${encodeURIComponent(jobId)}`)).data;
    if (job.status === "succeeded" || job.status === "failed") return job;
    $("#backup-status").textContent = `${what}: ${job.status}…`;
    await new Promise((resolve) => { setTimeout(resolve, 500); });
  }
}

async function runJob(what, start) {
  $("#backup-status").textContent = `${what}: queued…`;
  try {
    const { data } = await start();
    if (data.backup) putBackup(data.backup);
    const job = await waitForJob(data.job_id, what);
    await loadBackups(); // a restore also adds its safety backup
    const result = job.result || {};
    $("#backup-status").textContent = job.status === "failed" ? `${what} failed: ${job.error}`
      : result.ok === false ? `${what}: damage found: ${result.error}` : `${what}: done.`;
  } catch (err) {
    $("#backup-status").textContent = `${what} failed: ${describe(err)}`;
  }
}

const verify = (id) => runJob(`Verify ${id}`, () => api(`/admin/backups/${encodeURIComponent(id)}/verify`, { method: "POST" }));

function askRestore(id) {
  $("#restore-id").textContent = id;
  $("#restore-confirm").value = "";
  $("#restore-go").disabled = true;
  $("#restore-dialog").dataset.backup = id;
  $("#restore-dialog").showModal();
  $("#restore-confirm").focus();
}

$("#restore-confirm").addEventListener("input", () => {
  $("#restore-go").disabled = $("#restore-confirm").value !== $("#restore-dialog").dataset.backup;
});
$("#restore-cancel").addEventListener("click", () => $("#restore-dialog").close());
$("#restore-form").addEventListener("submit", (e) => {
  const id = $("#restore-dialog").dataset.backup;
  const confirm = $("#restore-confirm").value;
  if (confirm !== id) { e.preventDefault(); return; }
  runJob(`Restore ${id}`, () => api(`/admin/backups/${encodeURIComponent(id)}/restore`, { method: "POST", body: { confirm } }));
});

$("#backup-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const note = $("#backup-note").value.trim();
  runJob("Backup", () => api("/admin/backups", { method: "POST", body: note ? { note } : {} }));
  $("#backup-note").value = "";
});

async function loadUsers() {
  const users = await listAll("/admin/users", 1000);
  users.forEach((u) => names.set(u.id, u.name));
  const toggle = (u, field, text) => h("input", {
    type: "checkbox", checked: u[field], "aria-label": `${text}: ${u.name}`, disabled: u.id === user.id,
    onchange: async (e) => {
      try {
        await api(`/admin/users/${u.id}`, { method: "PATCH", body: { [field]: e.target.checked } });
        loadAudit();
      } catch (err) {
        e.target.checked = !e.target.checked;
        flash(describe(err));
      }
    },
  });
  $("#user-rows").replaceChildren(...users.map((u) => h("tr", {},
    h("td", {}, u.name), h("td", {}, u.email), h("td", {}, toggle(u, "is_admin", "Administrator")), h("td", {}, toggle(u, "active", "Active")))));
}

$("#user-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#user-error").hidden = true;
  const body = { email: $("#user-email").value.trim(), name: $("#user-name").value.trim(), password: $("#user-password").value, is_admin: $("#user-admin").checked };
  try {
    await api("/admin/users", { method: "POST", body });
    e.target.reset();
    loadUsers();
    loadAudit();
  } catch (err) {
    showError($("#user-error"), err);
  }
});

async function loadAudit(more = false) {
  const { data } = await api(`/admin/audit?limit=50${more && auditCursor ? `&cursor=${encodeURIComponent(auditCursor)}` : ""}`);
  const rows = data.items.map((a) => h("tr", {},
    h("td", {}, when(a.at || a.created_at)), h("td", {}, a.actor_id ? names.get(a.actor_id) || `#${a.actor_id}` : "system"),
    h("td", {}, a.action), h("td", {}, [a.target_type, a.target_id].filter(Boolean).join(" ")),
    h("td", {}, h("code", {}, JSON.stringify(a.data || {})))));
  if (more) $("#audit-rows").append(...rows); else $("#audit-rows").replaceChildren(...rows);
  auditCursor = data.next_cursor;
  $("#audit-more").hidden = !auditCursor;
}
$("#audit-more").addEventListener("click", () => loadAudit(true));

if (user && !user.is_admin) $("#not-admin").hidden = false;
if (user && user.is_admin) {
  $("#admin").hidden = false;
  const socket = connect();
  socket.on("backup.finished", (b) => { putBackup(b); loadAudit(); });
  socket.on("backup.restored", (b) => { flash(`Restored from backup ${b.id}.`); putBackup(b); loadUsers(); loadAudit(); });
  const report = (err) => flash(describe(err));
  loadBackups().catch(report);
  loadUsers().then(() => loadAudit()).catch(report);
}
