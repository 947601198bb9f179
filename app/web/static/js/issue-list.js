// `/projects/KEY?view=list`: the issues as a table with the board's filters. It re-reads
// the list after changes (one fetch per burst), so filters and order stay the server's.
import { api } from "./api.js";
import { $, debounce, flash, h, label, when } from "./ui.js";

export class IssueList {
  constructor(key, members, query) {
    Object.assign(this, { key, members, query });
    this.cursor = null;
    this.shown = 0;
    this.ticket = 0;
    this.reload = debounce(() => this.load(), 30); // one re-fetch for a burst of events
    $("#more").addEventListener("click", () => this.load({ append: true }));
  }

  row(issue) {
    const assignee = issue.assignee_id ? (this.members.get(issue.assignee_id) || `#${issue.assignee_id}`) : "";
    return h("tr", { dataset: { issueId: issue.id } },
      h("td", {}, h("a", { href: `/issues/${issue.key}` }, issue.key)),
      h("td", {}, h("a", { href: `/issues/${issue.key}` }, issue.title)),
      h("td", {}, h("span", { class: `pill status-${issue.status}` }, label(issue.status))),
      h("td", {}, h("span", { class: `pill priority-${issue.priority}` }, issue.priority)),
      h("td", {}, assignee),
      h("td", {}, issue.labels.map((l) => h("span", { class: "tag" }, l))),
      h("td", {}, h("time", { datetime: issue.updated_at }, when(issue.updated_at))));
  }

  // (Re)load the list with the current filters; keep as many rows as were shown.
  async load({ append = false } = {}) {
    const params = this.query({ limit: append ? 50 : Math.min(200, Math.max(50, this.shown)) });
    if (append && this.cursor) params.set("cursor", this.cursor);
    const ticket = ++this.ticket;
    let page;
    try {
      page = (await api(`/projects/${this.key}/issues?${params}`)).data;
    } catch (err) {
      if (err.status === 0) return undefined; // unreachable: the re-join after reconnecting loads again
      return flash(err.status === 404 ? "This project does not exist or you cannot see it." : err.describe());
    }
    if (ticket !== this.ticket) return undefined; // a newer load is on its way: drop this older answer
    const rows = page.items.map((issue) => this.row(issue));
    // A live re-render must not take the keyboard focus away from the row link it was on.
    const body = $("#issue-rows");
    const focused = body.contains(document.activeElement) ? document.activeElement : null;
    const focusedAt = focused && [...body.querySelectorAll("a")].indexOf(focused) % 2;
    if (append) body.append(...rows); else body.replaceChildren(...rows);
    if (focused && !focused.isConnected) {
      const again = [...body.querySelectorAll(`a[href="${focused.getAttribute("href")}"]`)][focusedAt];
      if (again) again.focus();
    }
    this.shown = body.children.length;
    this.cursor = page.next_cursor;
    $("#more").hidden = !page.next_cursor;
    $("#empty").hidden = this.shown > 0;
    return undefined;
  }

  onEvent(event) {
    if (event.type.startsWith("issue.")) this.reload();
  }
}
