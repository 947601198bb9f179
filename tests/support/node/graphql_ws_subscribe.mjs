// Follow a GraphQL subscription with the graphql-ws client (npm):
// node graphql_ws_subscribe.mjs <ws url> <token> <query> <variables JSON> <count>.
// Prints "ready" once acknowledged, then each result as a JSON line; exits after <count>.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, query, variables, count] = process.argv.slice(2);
let seen = 0;
const client = createClient({
  url, webSocketImpl: WebSocket, connectionParams: { token }, retryAttempts: 0,
  on: { connected: () => console.log("ready") },
});
client.subscribe({ query, variables: JSON.parse(variables) }, {
  next: (result) => {
    console.log(JSON.stringify(result));
    if (++seen >= Number(count)) { client.dispose(); process.exit(0); }
  },
  error: (error) => { console.log(JSON.stringify({ error })); process.exit(1); },
  complete: () => process.exit(0),
});
