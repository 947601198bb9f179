// The board's data: every issue the page knows, each with the project seq its data shows.
//
// Lists come with the seq they show (`Beacon-Seq`) and events carry theirs, so one rule
// reconciles them whatever order they arrive in: an issue's data changes only for an event
// newer than the data (`event.seq > record.seq`). A live event older than a list read
// later changes nothing, and a list read before an event is brought up to date by the
// events after its seq (`since`). Issue ids are never reused, so a deleted one stays gone.
export const STATUSES = ["open", "in_progress", "resolved", "closed"];
export const STATUS_NAMES = { open: "Open", in_progress: "In progress", resolved: "Resolved", closed: "Closed" };
const PRIORITY_RANK = { low: 0, medium: 1, high: 2, critical: 3 };
const LOG_SIZE = 2000; // events kept to bring later list reads up to date
// The events that change a count a card shows: [field, step].
const COUNTED = {
  "comment.created": ["comment_count", 1], "comment.deleted": ["comment_count", -1],
  "attachment.added": ["attachment_count", 1], "attachment.removed": ["attachment_count", -1],
};

// The server's order for `sort` (see app/issues/service.py `_sort_keys`): the field, then the id.
export function comparator(sort) {
  const descending = sort.startsWith("-");
  const field = sort.replace(/^-/, "");
  const value = field === "priority" ? (issue) => PRIORITY_RANK[issue.priority] : (issue) => issue[field];
  return (a, b) => {
    const x = value(a);
    const y = value(b);
    const order = x < y ? -1 : x > y ? 1 : a.id - b.id;
    return descending ? -order : order;
  };
}

// Whether an issue passes the board's filters (the list API's, but for status: columns).
export function matches(issue, filters) {
  if (filters.priority && issue.priority !== filters.priority) return false;
  if (filters.assignee_id && issue.assignee_id !== Number(filters.assignee_id)) return false;
  if (filters.label && !issue.labels.includes(filters.label)) return false;
  if (filters.q) {
    const q = filters.q.toLowerCase();
    if (!issue.title.toLowerCase().includes(q) && !(issue.description || "").toLowerCase().includes(q)) return false;
  }
  return true;
}

export class BoardData {
  // `previous`: the data this replaces (other filters): its deletions and events still hold.
  constructor(filters, previous = null) {
    this.filters = filters;
    this.order = comparator(filters.sort || "-created_at");
    this.records = new Map(); // issue id -> {issue, seq}
    this.gone = previous ? previous.gone : new Set(); // deleted issue ids
    this.pinned = new Set(); // moved or created by this page: shown even beyond a column's loaded range
    this.log = previous ? previous.log : []; // recent events, oldest first
    this.columns = Object.fromEntries(STATUSES.map((status) => [status, {
      status, shown: !filters.status || filters.status === status, cursor: null, complete: false, boundary: null,
    }]));
  }

  // A page of a column's list, read at `seq` (null: unknown, then versions decide).
  takePage(status, page, seq) {
    const column = this.columns[status];
    for (const issue of page.items) this.take(issue, seq);
    column.cursor = page.next_cursor;
    column.complete = !page.next_cursor;
    if (page.items.length) column.boundary = page.items[page.items.length - 1];
  }

  take(issue, seq) {
    if (this.gone.has(issue.id)) return;
    const known = this.records.get(issue.id);
    const newer = !known || (seq !== null ? seq > known.seq : issue.version > known.issue.version);
    if (newer) this.records.set(issue.id, { issue, seq: seq ?? (known ? known.seq : 0) });
  }

  // An issue this page created: shown at once (its event confirms it, at a newer seq).
  added(issue) {
    this.take({ ...issue, comment_count: 0, attachment_count: 0 }, null);
    this.pinned.add(issue.id);
  }

  // Apply one event; return the statuses whose columns changed.
  apply(event) {
    this.log.push(event);
    if (this.log.length > LOG_SIZE) this.log.splice(0, this.log.length - LOG_SIZE);
    return this.applyOnce(event);
  }

  applyOnce(event) {
    const data = event.data || {};
    const id = data.issue ? data.issue.id : data.issue_id;
    if (id === undefined || this.gone.has(id)) return [];
    const known = this.records.get(id);
    if (known && event.seq <= known.seq) return []; // the data shows this event already
    if (event.type === "issue.deleted") {
      this.records.delete(id);
      this.gone.add(id);
      return known ? [known.issue.status] : [];
    }
    if (event.type === "issue.created" || event.type === "issue.updated") {
      // The page's own accepted change may be newer than an event still on its way.
      if (known && data.issue.version < known.issue.version) return (known.seq = event.seq, []);
      const count = (field) => (event.type === "issue.created" ? 0 : known ? known.issue[field] : null);
      const counts = { comment_count: count("comment_count"), attachment_count: count("attachment_count") };
      this.records.set(id, { issue: { ...data.issue, ...counts }, seq: event.seq });
      return [...new Set([known && known.issue.status, data.issue.status].filter(Boolean))];
    }
    if (!known) return [];
    known.seq = event.seq;
    const [field, step] = COUNTED[event.type] || [];
    if (!step || known.issue[field] === null || known.issue[field] === undefined) return [];
    if (data.attachment && data.attachment.status === "rejected") return []; // lists do not count those
    known.issue = { ...known.issue, [field]: Math.max(0, known.issue[field] + step) };
    return [known.issue.status];
  }

  // The kept events after `seq` up to `upTo`, or null if the log does not reach back that far.
  since(seq, upTo) {
    if (seq >= upTo) return [];
    if (!this.log.length || this.log[0].seq > seq + 1) return null;
    return this.log.filter((event) => event.seq > seq && event.seq <= upTo);
  }

  // Re-apply events to data read before them (a list page at `seq`).
  catchUp(events) {
    const changed = new Set();
    for (const event of events) for (const status of this.applyOnce(event)) changed.add(status);
    return changed;
  }

  // The cards of a column, in the board's order: its issues that pass the filters and lie
  // within what the column has loaded (the rest come with "Load more").
  cards(status) {
    const column = this.columns[status];
    if (!column.shown) return [];
    const inRange = (issue) => column.complete || this.pinned.has(issue.id)
      || (column.boundary !== null && this.order(issue, column.boundary) <= 0);
    const found = [];
    for (const { issue } of this.records.values()) {
      if (issue.status === status && matches(issue, this.filters) && inRange(issue)) found.push(issue);
    }
    return found.sort(this.order);
  }

  issue(id) {
    const known = this.records.get(id);
    return known ? known.issue : null;
  }

  // Show the page's own change at once (the server's answer or refusal follows).
  change(id, fields) {
    const known = this.records.get(id);
    known.issue = { ...known.issue, ...fields };
    this.pinned.add(id);
  }

  // The server's answer to the page's change (newer than what the page showed).
  accepted(issue) {
    const known = this.records.get(issue.id);
    if (known && issue.version >= known.issue.version) {
      known.issue = { ...issue, comment_count: known.issue.comment_count, attachment_count: known.issue.attachment_count };
    }
  }

  // Put back the status the server has (`server`: the issue as it last confirmed it),
  // unless newer data came meanwhile.
  revert(id, server) {
    const known = this.records.get(id);
    if (known && known.issue.version === server.version) known.issue = { ...known.issue, status: server.status };
  }

  // The last change another user made to an issue, as far as this page saw.
  lastChangeBy(id, exceptUserId) {
    for (let i = this.log.length - 1; i >= 0; i--) {
      const event = this.log[i];
      if (event.type === "issue.updated" && event.data.issue.id === id && event.actor_id !== exceptUserId) return event;
    }
    return null;
  }
}
