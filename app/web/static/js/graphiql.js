// `/graphql`: GraphiQL (vendored from npm) on /api/graphql, signed in with the tab's token.
import { session } from "./api.js";
import { chrome } from "./ui.js";

chrome();
const { GraphiQL, React, ReactDOM } = window;
const fetcher = GraphiQL.createFetcher({
  url: "/api/graphql",
  headers: { Authorization: `Bearer ${session.token}` },
});
const start = "# Beacon's GraphQL API: the schema is in the docs pane.\n{\n  viewer { id name email }\n  projects(first: 10) { nodes { key name viewerRole } }\n}\n";
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, { fetcher, defaultQuery: start }),
);
