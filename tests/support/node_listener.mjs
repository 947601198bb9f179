// A listener on the official socket.io-client (npm), for tests/test_realtime_backlog.py.
//
//     node tests/support/node_listener.mjs URL TOKEN ROOM
//
// Joins ROOM, then prints a JSON line per message: {"name": ..., "data": ...}. Told
// `events.gap`, it leaves and joins again with `after_seq`, as the browser pages do.
import { io } from "socket.io-client";

const [url, token, room] = process.argv.slice(2);
const socket = io(`${url}/realtime`, { auth: { token }, transports: ["websocket"], reconnection: false });
const print = (name, data) => process.stdout.write(`${JSON.stringify({ name, data })}\n`);

socket.onAny((name, data) => {
  print(name, data);
  if (name === "events.gap" && data.room === room) {
    socket.emit("leave", { room }, () => socket.emit("join", { room, after_seq: data.after_seq }, (ack) => print("rejoined", ack)));
  }
});
socket.on("connect", () => socket.emit("join", { room }, (ack) => print("joined", ack)));
socket.on("disconnect", (reason) => print("disconnected", reason));
socket.on("connect_error", (error) => print("connect_error", String(error)));
