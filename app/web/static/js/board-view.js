// The board's columns and cards in the DOM. Cards are kept per issue and reused: a render
// moves, adds and removes only what changed, and keeps the keyboard focus where it was.
import { STATUSES, STATUS_NAMES } from "./board-model.js";
import { h, initials } from "./ui.js";

// The counts a card shows, as list items carry them.
const COUNTS = [["comment_count", "comment", "comments"], ["attachment_count", "attachment", "attachments"]];
const PRIORITY_NAMES = { low: "Low", medium: "Medium", high: "High", critical: "Critical" };

export class BoardView {
  // `members`: user id -> name. `onMore(status)` loads a column's next page; `onDrop(id, status)` moves a card.
  constructor(root, { members, onMore, onDrop }) {
    Object.assign(this, { members, onMore, onDrop });
    this.cards = new Map(); // issue id -> {el, issue, viewers}
    this.viewers = new Map(); // issue id -> [member]
    this.lists = {};
    this.parts = {};
    root.replaceChildren(...STATUSES.map((status) => this.column(status)));
  }

  column(status) {
    const list = h("ol", { class: "cards", "aria-labelledby": `col-${status}` });
    const more = h("button", {
      type: "button", class: "more", hidden: true, dataset: { status }, "aria-label": `Load more in ${STATUS_NAMES[status]}`,
      onclick: () => this.onMore(status),
    }, "Load more");
    const count = h("span", { class: "count muted" });
    const empty = h("p", { class: "empty muted", hidden: true }, "No issues");
    const section = h("section", { class: "column", dataset: { status } },
      h("header", {}, h("h2", { id: `col-${status}` }, STATUS_NAMES[status]), count),
      h("div", { class: "scroll" }, list, empty, more));
    section.addEventListener("dragover", (e) => {
      if (!e.dataTransfer.types.includes("application/x-beacon-issue")) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      section.classList.add("drop");
    });
    section.addEventListener("dragleave", (e) => {
      if (!section.contains(e.relatedTarget)) section.classList.remove("drop");
    });
    section.addEventListener("drop", (e) => {
      section.classList.remove("drop");
      const id = Number(e.dataTransfer.getData("application/x-beacon-issue"));
      if (!id) return;
      e.preventDefault();
      this.onDrop(id, status);
    });
    // "Load more" loads by itself as it nears the column's scrolled view: long columns
    // scroll on without a click, and hold only the pages scrolled through.
    const scroll = section.querySelector(".scroll");
    const near = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && this.onMore(status),
      { root: scroll, rootMargin: "0px 0px 400px 0px" });
    near.observe(more);
    this.lists[status] = list;
    this.parts[status] = { count, empty, more, section, near };
    return section;
  }

  // Show `issues` (in order) in a status's column; `column` says what is loaded.
  render(status, issues, column) {
    const list = this.lists[status];
    issues.forEach((issue, i) => {
      const el = this.card(issue);
      if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null);
    });
    while (list.children.length > issues.length) list.lastElementChild.remove();
    const { count, empty, more, section } = this.parts[status];
    section.classList.toggle("filtered", !column.shown);
    count.textContent = column.shown ? `${issues.length}${column.complete ? "" : "+"}` : "filtered out";
    empty.hidden = !column.shown || issues.length > 0 || !column.complete;
    more.hidden = !column.shown || column.complete;
  }

  // After a page came: if "Load more" is still near the view, it loads the next one too
  // (observing again reports where it is now).
  recheck(status) {
    const { more, near } = this.parts[status];
    near.unobserve(more);
    near.observe(more);
  }

  // The card of an issue: made again only when its issue or the people on it changed.
  card(issue) {
    const viewers = this.viewers.get(issue.id) || [];
    const viewersKey = viewers.map((m) => `${m.user_id}:${m.state.status}`).join(",");
    const known = this.cards.get(issue.id);
    if (known && known.issue === issue && known.viewersKey === viewersKey) return known.el;
    const el = this.build(issue, viewers);
    if (known && known.el.isConnected) known.el.replaceWith(el);
    this.cards.set(issue.id, { el, issue, viewersKey });
    return el;
  }

  build(issue, viewers) {
    const metaId = `card-meta-${issue.id}`;
    const assignee = issue.assignee_id ? this.members.get(issue.assignee_id) || `user #${issue.assignee_id}` : null;
    const counts = COUNTS.filter(([field]) => typeof issue[field] === "number" && issue[field] > 0)
      .map(([field, one, many]) => h("span", { class: "count" }, `${issue[field]} ${issue[field] === 1 ? one : many}`));
    return h("li", { class: "card-item", draggable: "true", dataset: { issueId: issue.id }, ondragstart: (e) => {
      e.dataTransfer.setData("application/x-beacon-issue", String(issue.id));
      e.dataTransfer.setData("text/uri-list", new URL(`/issues/${issue.key}`, location.href).href);
      e.dataTransfer.effectAllowed = "move";
    } },
    h("a", { class: "card-link", href: `/issues/${issue.key}`, draggable: "false", "aria-describedby": metaId },
      h("span", { class: "key" }, issue.key), " ", h("span", { class: "title" }, issue.title)),
    h("div", { class: "meta", id: metaId },
      h("span", { class: `pill priority-${issue.priority}` }, PRIORITY_NAMES[issue.priority]),
      issue.labels.map((l) => h("span", { class: "tag" }, l)),
      counts,
      h("span", { class: "people" },
        viewers.map((m) => h("span", {
          class: `avatar small viewer ${m.state.status}`, title: `${m.name} is ${m.state.status} this issue`,
        }, initials(m.name), h("span", { class: "sr-only" }, ` ${m.name} is ${m.state.status} this issue`))),
        assignee && h("span", { class: "avatar small assignee", title: `Assigned to ${assignee}` },
          initials(assignee), h("span", { class: "sr-only" }, ` assigned to ${assignee}`)))));
  }

  // Who is on which card (presence states that name an issue): re-render what changed.
  setViewers(byIssue) {
    const touched = new Set([...this.viewers.keys(), ...byIssue.keys()]);
    this.viewers = byIssue;
    return touched;
  }

  // Give the focus back to an issue's card (a render may have moved or remade it).
  focus(id) {
    const known = this.cards.get(id);
    if (known && known.el.isConnected && !known.el.contains(document.activeElement)) known.el.querySelector(".card-link").focus();
  }

  forget(id) {
    this.cards.delete(id);
  }

  // The card links in reading order (column by column), for j/k.
  links() {
    return [...document.querySelectorAll("#columns .card-link")];
  }
}
