// `/projects/KEY`: the board, a column per status (or with ?view=list, the table). Filters,
// sort and search live in the URL. The board loads a page of each column at once and more
// as a column scrolls; live events then keep it current, reconciled by seq (board-model.js).
import { api, listAll } from "./api.js";
import { BoardData, STATUSES, STATUS_NAMES } from "./board-model.js";
import { Mover } from "./board-moves.js";
import { BoardView } from "./board-view.js";
import { IssueList } from "./issue-list.js";
import { connect, reportTyping, Room } from "./realtime.js";
import { bindKeys } from "./shortcuts.js";
import { $, chrome, debounce, flash, h, showError } from "./ui.js";

const PAGE = 50; // cards per column and page: more than a screen holds
const user = chrome();
const key = location.pathname.split("/").pop();
const filters = $("#filters");
const listView = new URLSearchParams(location.search).get("view") === "list";
const members = new Map();
const state = { data: null, view: null, list: null, room: null };

// The filters as query parameters (and `extra` ones), as the list API takes them; the
// default order goes without saying.
function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(filters)) if (value && !(name === "sort" && value === "-created_at")) params.set(name, value);
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params;
}

// The URL says what is shown: the view and the filters, so it can be shared or reloaded.
function keepInUrl() {
  const shown = query(listView ? { view: "list" } : {});
  history.replaceState(null, "", shown.toString() ? `?${shown}` : location.pathname);
  const filtersOnly = query().toString();
  $("#view-board").href = `${location.pathname}${filtersOnly ? `?${filtersOnly}` : ""}`;
  $("#view-list").href = `${location.pathname}?${query({ view: "list" })}`;
  $(listView ? "#view-list" : "#view-board").setAttribute("aria-current", "page");
}

// A member's name for the avatars, and as an assignee to filter by.
function addMember(id, name) {
  members.set(id, name);
  const option = $(`#f-assignee option[value="${id}"]`) || $("#f-assignee").appendChild(h("option", { value: id }));
  option.textContent = name;
}

// The filters from the URL; an assignee is named once the members are read.
function restoreFilters() {
  const params = new URLSearchParams(location.search);
  const assignee = params.get("assignee_id");
  if (assignee && !$(`#f-assignee option[value="${CSS.escape(assignee)}"]`)) {
    $("#f-assignee").append(h("option", { value: assignee }, `user #${assignee}`));
  }
  for (const el of filters.elements) if (params.has(el.name)) el.value = params.get(el.name);
}

const seqOf = (response) => {
  const seq = response.headers.get("Beacon-Seq");
  return seq === null ? null : Number(seq);
};

// Redraw columns; a focused card keeps the focus, even when it moved to another column.
function render(statuses = STATUSES) {
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".card-item");
  for (const status of new Set(statuses)) {
    if (status) state.view.render(status, state.data.cards(status), state.data.columns[status]);
  }
  if (focused) state.view.focus(Number(focused.dataset.issueId));
}

// Bring data read at `seq` up to the events the page has applied since (kept, or re-read);
// return the statuses whose columns that changed.
async function catchUp(seq) {
  const applied = state.room ? state.room.lastSeq : null;
  if (seq === null || applied === null || applied <= seq) return [];
  let events = state.data.since(seq, applied);
  if (events === null) {
    events = (await listAll(`/projects/${key}/events?after_seq=${seq}`, applied - seq)).filter((e) => e.seq <= applied);
  }
  return [...state.data.catchUp(events)];
}

// A page of a column's issues with the current filters, and the seq it shows.
async function fetchColumn(status, cursor) {
  const params = query({ status, limit: PAGE });
  if (cursor) params.set("cursor", cursor);
  const response = await api(`/projects/${key}/issues?${params}`);
  return { page: response.data, seq: seqOf(response) };
}

// Load a column's next page (its first ones come with the board).
async function loadMore(status) {
  const data = state.data;
  const column = data.columns[status];
  if (!column.shown || column.loading || column.complete || !column.cursor) return;
  column.loading = true;
  try {
    const { page, seq } = await fetchColumn(status, column.cursor);
    if (data !== state.data) return; // the filters changed meanwhile
    data.takePage(status, page, seq);
    render([status, ...await catchUp(seq)]); // a page holds one column's issues
  } finally {
    column.loading = false;
    if (data === state.data) state.view.recheck(status);
  }
}

// (Re)load the board with the current filters: a page of each column at once, drawn
// once `ready` (the members, for the avatars) is there too. Return the lowest seq the
// columns show (null if one could not say), which live events then follow from.
async function loadBoard(ready = null) {
  keepInUrl();
  const data = new BoardData(Object.fromEntries(query()), state.data);
  state.data = data;
  const shown = STATUSES.filter((status) => data.columns[status].shown);
  const [pages] = await Promise.all([Promise.all(shown.map((status) => fetchColumn(status))), ready]);
  if (data !== state.data) return null; // the filters changed meanwhile
  shown.forEach((status, i) => data.takePage(status, pages[i].page, pages[i].seq));
  const seqs = pages.map((p) => p.seq);
  const lowest = seqs.includes(null) ? null : Math.min(...seqs);
  await catchUp(lowest);
  render();
  performance.mark("beacon:board-shown");
  $("#board").dataset.loaded = "true";
  for (const status of shown) state.view.recheck(status);
  return lowest;
}

function onEvent(event) {
  if (event.type === "member.added") addMember(event.data.user_id, event.data.name);
  if (state.list) return state.list.onEvent(event);
  const before = event.data && event.data.issue ? state.data.issue(event.data.issue.id) : null;
  const changed = state.data.apply(event);
  if (event.type === "issue.deleted") state.view.forget(event.data.issue.id);
  render(changed);
  if (before && event.type === "issue.updated" && before.status !== event.data.issue.status && event.actor_id !== user.id) {
    const name = members.get(event.actor_id) || "Someone";
    say(`${name} moved ${event.data.issue.key} to ${STATUS_NAMES[event.data.issue.status]}.`);
  }
  return undefined;
}

function say(text) {
  $("#announce").textContent = text;
}

function fail(text) {
  const el = $("#board-error");
  el.textContent = text;
  el.hidden = false;
}

function onFiltersChanged() {
  if (state.list) {
    keepInUrl();
    return state.list.load();
  }
  return loadBoard().catch(failed);
}

function failed(err) {
  if (err.status === 0) return; // unreachable now: the re-join after reconnecting loads again
  flash(err.status === 404 ? "This project does not exist or you cannot see it." : err.describe());
}

function joinRoom(socket, afterSeq) {
  state.room = new Room(socket, `project:${key}`, {
    afterSeq,
    onJoined: (_ack, first) => {
      // The list has no seq to catch up from: read it again. So does a board whose data came
      // without a seq (a project that never held still while it was read).
      if (state.list) return state.list.load();
      if (first && afterSeq === null) return loadBoard();
      return undefined;
    },
    onEvent,
    onStale: async () => { // too far behind to replay: read afresh, then follow from there
      if (state.list) {
        state.room.restart(null);
        return state.list.load();
      }
      return state.room.restart(await loadBoard());
    },
    onPresence: (presence) => {
      presence.render($("#avatars"), $("#typing"), user.id);
      if (state.view) {
        state.view.setViewers(presence.byIssue(user.id));
        render();
      }
    },
    onRefused: (error) => flash(`Live updates are off: ${error}.`),
  });
  reportTyping(state.room, $("#new-title"));
  reportTyping(state.room, $("#new-description"));
  socket.on("room.closed", (data) => data.room === state.room.name && flash("This project was deleted."));
}

async function start() {
  restoreFilters();
  // connect() gives the one socket of the page, however often start() runs.
  const socket = connect((status) => { $("#live-status").textContent = status === "live" ? "Live" : `Live updates ${status}…`; });
  // The project, its members and (on the board) the columns are read together.
  const project = api(`/projects/${key}`);
  const people = listAll(`/projects/${key}/members`).then((found) => found.forEach((m) => addMember(m.user_id, m.name)));
  const named = project.then(({ data }) => {
    $("#project-title").textContent = data.name;
    document.title = `${data.name} · Beacon`;
  });
  if (listView) {
    $("#list").hidden = false;
    keepInUrl();
    state.list = new IssueList(key, members, query);
    try {
      await Promise.all([named, people]);
    } catch (err) {
      if (err.status === 0) return setTimeout(start, 2000); // the server is unreachable: try again
      return failed(err);
    }
    state.list.load();
    return joinRoom(socket, null);
  }
  $("#board").hidden = false;
  if (!state.view) { // once, however often start() runs
    const mover = new Mover({
      data: () => state.data, render, say, fail, userId: user.id, nameOf: (id) => members.get(id) || `user #${id}`,
    });
    state.view = new BoardView($("#columns"), {
      members, onMore: (status) => loadMore(status).catch(failed), onDrop: (id, status) => mover.move(id, status),
    });
    bindBoardKeys(mover);
  }
  let seq;
  try {
    [seq] = await Promise.all([loadBoard(people), named]);
  } catch (err) {
    if (err.status === 0) return setTimeout(start, 2000); // the server is unreachable: try again
    return failed(err);
  }
  return joinRoom(socket, seq);
}

// j/k between cards, [ and ] move the focused one, c creates, / searches, ? lists them all.
function bindBoardKeys(mover) {
  const focusedCard = () => document.activeElement && document.activeElement.closest && document.activeElement.closest(".card-item");
  const stepFocus = (by) => {
    const links = state.view.links();
    if (!links.length) return;
    const at = links.indexOf(document.activeElement);
    const next = at < 0 ? (by > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + by));
    links[next].focus();
  };
  const moveFocused = (direction) => {
    const card = focusedCard();
    if (!card) return false;
    mover.step(Number(card.dataset.issueId), direction);
    return true;
  };
  bindKeys({
    j: () => stepFocus(1),
    k: () => stepFocus(-1),
    "[": () => moveFocused(-1),
    "]": () => moveFocused(1),
    c: () => { $("#new-issue").open = true; $("#new-title").focus(); },
    "/": () => $("#f-q").focus(),
  }, $("#shortcuts"));
}

filters.addEventListener("change", () => onFiltersChanged());
filters.addEventListener("submit", (e) => { e.preventDefault(); onFiltersChanged(); });
$("#f-q").addEventListener("input", debounce(() => onFiltersChanged(), 250));
$("#f-label").addEventListener("input", debounce(() => onFiltersChanged(), 250));
$("#show-shortcuts").addEventListener("click", () => $("#shortcuts").showModal());

$("#issue-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("#issue-error");
  error.hidden = true;
  const labels = $("#new-labels").value.split(",").map((l) => l.trim()).filter(Boolean);
  const body = { title: $("#new-title").value.trim(), priority: $("#new-priority").value, labels };
  if ($("#new-description").value) body.description = $("#new-description").value;
  try {
    const { data } = await api(`/projects/${key}/issues`, { method: "POST", body });
    e.target.reset();
    $("#new-title").blur();
    flash(`Created ${data.key}.`);
    if (state.list) state.list.reload();
    else {
      state.data.added(data);
      render([data.status]);
    }
  } catch (err) {
    showError(error, err);
  }
});

if (user) start();
