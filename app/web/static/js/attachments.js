// The issue page's attachments: the list (thumbnails, table and text previews, downloads)
// and uploads through tus (tus-js-client, vendored as `window.tus`) with a progress bar.
// An interrupted upload resumes: tus-js-client keeps each upload's URL in localStorage
// under the file's fingerprint, so choosing the same file again after a reload or a cut
// continues from the offset the server reports instead of starting over.
import { api, session } from "./api.js";
import { h, showError } from "./ui.js";

const CHUNK_BYTES = 8 * 1024 * 1024;
const PREVIEW_TRIES = 6; // the job makes thumbnails and previews a moment after the upload

const size = (bytes) => (bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KB`
  : `${(bytes / 1024 ** 2).toFixed(1)} MB`);
const previewable = (item) => item.status === "ready" && !item.thumbnail_url && !item.preview
  && /^(image\/(png|jpeg|gif|webp|bmp|tiff)|text\/|application\/json)/.test(item.content_type);

// Bytes of the API need the bearer token, which an <img src> or a link cannot send.
async function fetchBlob(url) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) throw new Error(`The server answered ${response.status}.`);
  return response.blob();
}

const dataUrl = (blob) => new Promise((resolve, reject) => {
  const reader = new FileReader();
  reader.onload = () => resolve(reader.result);
  reader.onerror = () => reject(reader.error);
  reader.readAsDataURL(blob); // a data: URL: the page's CSP allows those for images
});

function previewOf(preview) {
  if (!preview) return null;
  if (preview.kind === "table") {
    return h("div", { class: "preview-table" }, h("table", {},
      h("thead", {}, h("tr", {}, preview.columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, preview.rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell)))))));
  }
  return h("pre", { class: "preview-text" }, preview.text);
}

export class Attachments {
  // `list`, `picker`, `zone`, `uploads`, `error`: the section's elements.
  constructor({ list, picker, zone, uploads, error }, { issueId, mayRemove }) {
    Object.assign(this, { list, uploads, error, issueId, mayRemove });
    this.items = new Map();
    picker.addEventListener("change", () => { this.uploadAll(picker.files); picker.value = ""; });
    zone.addEventListener("dragover", (e) => {
      if (!e.dataTransfer.types.includes("Files")) return;
      e.preventDefault();
      zone.classList.add("drop");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("drop"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("drop");
      this.uploadAll(e.dataTransfer.files);
    });
  }

  async load(items) {
    for (const item of items) this.show(item);
    this.list.dataset.loaded = "true";
  }

  show(item) {
    const row = h("li", { class: "attachment", dataset: { id: item.id, status: item.status } });
    const link = h("a", { href: item.url, class: "download", onclick: (e) => { e.preventDefault(); this.download(item); } },
      item.filename);
    const facts = [size(item.size), item.status === "ready" ? null : item.status, item.reason].filter(Boolean).join(" · ");
    const remove = this.mayRemove(item) ? h("button", {
      type: "button", class: "secondary small", "aria-label": `Remove ${item.filename}`, onclick: () => this.remove(item),
    }, "Remove") : null;
    const thumb = item.thumbnail_url ? h("img", { class: "thumb", alt: `Thumbnail of ${item.filename}`, width: 64 }) : null;
    row.append(h("div", { class: "attachment-head" }, thumb, h("div", {}, link, h("p", { class: "muted" }, facts)), remove),
      previewOf(item.preview) || "");
    const old = this.items.get(item.id);
    if (old) old.row.replaceWith(row); else this.list.append(row);
    this.items.set(item.id, { item, row });
    if (thumb) fetchBlob(item.thumbnail_url).then(dataUrl).then((src) => { thumb.src = src; }).catch(() => thumb.remove());
    if (!old && previewable(item)) this.awaitPreview(item.id, 1);
  }

  async awaitPreview(id, attempt) {
    await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    if (!this.items.has(id)) return;
    const { data } = await api(`/attachments/${id}`);
    if (!previewable(data)) this.show(data);
    else if (attempt < PREVIEW_TRIES) this.awaitPreview(id, attempt + 1);
  }

  removed(id) {
    const known = this.items.get(id);
    if (known) known.row.remove();
    this.items.delete(id);
  }

  async remove(item) {
    try {
      await api(`/attachments/${item.id}`, { method: "DELETE" });
      this.removed(item.id);
    } catch (err) {
      showError(this.error, err);
    }
  }

  async download(item) {
    try {
      const url = URL.createObjectURL(await fetchBlob(item.url));
      const link = h("a", { href: url, download: item.filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      showError(this.error, err);
    }
  }

  uploadAll(files) {
    this.error.hidden = true;
    for (const file of files) this.upload(file);
  }

  async upload(file) {
    const bar = h("div", { class: "bar" });
    const status = h("span", { class: "muted" }, "Starting…");
    const row = h("li", { class: "upload", dataset: { name: file.name } }, h("span", {}, file.name), status,
      h("div", { class: "progress", role: "progressbar", "aria-label": `Upload of ${file.name}`, "aria-valuemin": 0,
        "aria-valuemax": 100, "aria-valuenow": 0 }, bar));
    this.uploads.append(row);
    let attachmentId = null;
    const upload = new window.tus.Upload(file, {
      endpoint: "/api/v1/uploads",
      chunkSize: CHUNK_BYTES,
      headers: { Authorization: `Bearer ${session.token}` },
      metadata: { filename: file.name, issue_id: String(this.issueId), content_type: file.type || "" },
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => {
        const percent = total ? Math.floor((sent / total) * 100) : 100;
        bar.style.width = `${percent}%`;
        row.lastChild.setAttribute("aria-valuenow", percent);
        status.textContent = `${size(sent)} of ${size(total)}`;
      },
      onAfterResponse: (_request, response) => {
        attachmentId = response.getHeader("Beacon-Attachment-Id") || attachmentId;
      },
      onError: (err) => {
        const body = err.originalResponse ? err.originalResponse.getBody() : "";
        let detail = err.message;
        try { detail = JSON.parse(body).detail || detail; } catch { /* not a problem+json */ }
        status.textContent = "Stopped: choose the same file again to resume.";
        row.dataset.failed = "true";
        showError(this.error, `${file.name}: ${detail}`);
      },
      onSuccess: async () => {
        row.remove();
        if (attachmentId) this.show((await api(`/attachments/${attachmentId}`)).data);
      },
    });
    const previous = await upload.findPreviousUploads();
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
      status.textContent = "Resuming…";
    }
    upload.start();
  }
}
