// The bell in every page's header: the signed-in user's unread notifications, counted live.
// The count comes from the API, then moves with the `notification` and `notifications.bulk`
// Socket.IO events sent to this user's sockets; it is read afresh after a reconnect (what
// arrived meanwhile) and when a page marks notifications read (the `beacon:read` event).
import { api, session } from "./api.js";
import { connect } from "./realtime.js";
import { $ } from "./ui.js";

const badge = $("#bell-count");
let count = 0;

function show(value) {
  count = Math.max(0, value);
  badge.textContent = String(count);
  badge.hidden = count === 0;
  $("#bell").setAttribute("aria-label", count ? `Inbox, ${count} unread` : "Inbox");
  document.dispatchEvent(new CustomEvent("beacon:unread", { detail: count }));
}

async function refresh() {
  try {
    show((await api("/notifications/unread-count")).data.count);
  } catch {
    // offline or signed out: the next reconnect reads it again
  }
}

if (session.token && session.user) {
  const socket = connect((status) => (status === "live" ? refresh() : undefined));
  socket.on("notification", (notification) => {
    show(count + 1);
    document.dispatchEvent(new CustomEvent("beacon:notifications", { detail: [notification] }));
  });
  socket.on("notifications.bulk", (bulk) => {
    show(count + bulk.notifications.length);
    document.dispatchEvent(new CustomEvent("beacon:notifications", { detail: bulk.notifications }));
  });
  document.addEventListener("beacon:read", refresh);
  refresh();
}
