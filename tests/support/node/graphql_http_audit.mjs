// The GraphQL-over-HTTP specification's audit suite (graphql-http's auditServer) against
// a Beacon server: node graphql_http_audit.mjs <url> <token>. Prints the results as JSON.
import { auditServer } from "graphql-http";

const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
console.log(JSON.stringify(results.map(({ id, name, status, reason }) => ({ id, name, status, reason }))));
