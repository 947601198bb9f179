"""GraphQL subscriptions over graphql-transport-ws at /api/graphql/ws, against real server
processes: the gql client (Python) and graphql-ws (npm, run by Node); close codes as in
the contract; replay then live, each event once in seq order; across processes; losing
access ends the subscription."""
import asyncio
import json
import queue
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest
import requests
import websocket
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from tests.support.live import ROOT
from tests.support.sockets import realtime, team  # noqa: F401 (fixtures)

pytestmark = pytest.mark.backends("production")  # real servers: once, on the production database

FOLLOW = "subscription($p: String!, $after: Int) { projectEvents(project: $p, afterSeq: $after) { seq type actor { name } } }"


def ws_url(server):
    return server.url.replace("http://", "ws://") + "/api/graphql/ws"


@contextmanager
def raw(server):
    """A plain WebSocket client speaking the protocol by hand (for the close codes)."""
    connection = websocket.create_connection(ws_url(server), subprotocols=["graphql-transport-ws"], timeout=15)
    try:
        yield connection
    finally:
        connection.shutdown()


def close_code(connection):
    """The close code the server ends ``connection`` with."""
    while True:
        opcode, data = connection.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big")


def send(connection, message):
    connection.send(json.dumps(message))


def received(connection):
    return json.loads(connection.recv())


def rest_issue(server, token, title, project="WEB"):
    response = requests.post(f"{server.url}/api/v1/projects/{project}/issues", json={"title": title},
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return response.json()


class Follower:
    """A gql WebSocket client following a subscription on a thread of its own (asyncio);
    results in ``seen``; ``close()`` ends it cleanly."""

    def __init__(self, server, token, query, variables):
        self.seen = queue.Queue()
        self.transport = WebsocketsTransport(url=ws_url(server), init_payload={"token": token},
                                             subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
        self.request = GraphQLRequest(query, variable_values=variables)
        self.loop = asyncio.new_event_loop()
        self.task = self.loop.create_task(self._follow())
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # noqa: BLE001 (handed to the test)
            self.seen.put(error)
        finally:
            self.loop.close()

    async def _follow(self):
        async with Client(transport=self.transport) as session:
            async for result in session.subscribe(self.request):
                self.seen.put(result)

    def close(self):
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)

    def take(self, count, timeout=15):
        found = []
        for _ in range(count):
            item = self.seen.get(timeout=timeout)
            if isinstance(item, Exception):
                raise item
            found.append(item)
        return found


def test_close_codes(realtime, team, factory):
    server = realtime.server()
    token = factory.token(team["owner"])
    with raw(server) as connection:
        send(connection, {"type": "connection_init", "payload": {"token": "nope"}})
        assert close_code(connection) == 4403
    with raw(server) as connection:
        send(connection, {"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id } }"}})
        assert close_code(connection) == 4401
    with raw(server) as connection:
        send(connection, {"type": "connection_init", "payload": {"token": token}})
        assert received(connection) == {"type": "connection_ack"}
        send(connection, {"type": "connection_init", "payload": {"token": token}})
        assert close_code(connection) == 4429
    with raw(server) as connection:
        send(connection, {"type": "connection_init", "payload": {"token": token}})
        received(connection)
        subscribe = {"id": "a", "type": "subscribe", "payload": {"query": FOLLOW, "variables": {"p": "WEB"}}}
        send(connection, subscribe)
        send(connection, subscribe)
        assert close_code(connection) == 4409


def test_queries_and_invalid_documents_over_the_socket(realtime, team, factory):
    server = realtime.server()
    with raw(server) as connection:
        send(connection, {"type": "connection_init", "payload": {"token": factory.token(team["owner"])}})
        received(connection)
        send(connection, {"id": "q", "type": "subscribe", "payload": {"query": "{ viewer { name } }"}})
        answer = received(connection)
        assert answer["type"] == "next" and answer["payload"]["data"] == {"viewer": {"name": "Owner"}}
        assert received(connection) == {"id": "q", "type": "complete"}
        send(connection, {"id": "bad", "type": "subscribe", "payload": {"query": "subscription { nope }"}})
        answer = received(connection)
        assert answer["type"] == "error" and answer["id"] == "bad"
        send(connection, {"id": "api", "type": "subscribe", "payload": {"query": FOLLOW, "variables": {"p": "API"}}})
        answer = received(connection)
        assert answer["type"] == "error" and answer["payload"][0]["extensions"]["code"] == "NOT_FOUND"


def test_replay_then_live_each_once_in_seq_order_across_processes(realtime, team, factory):
    a, b = realtime.server(), realtime.server()
    token = factory.token(team["owner"])
    rest_issue(a, token, "Before")
    follower = Follower(a, token, FOLLOW, {"p": "WEB", "after": 0})
    try:
        replayed = follower.take(2)
        assert [r["projectEvents"]["type"] for r in replayed] == ["project.created", "issue.created"]
        for n in range(5):
            rest_issue(b if n % 2 else a, token, f"Live {n}")  # half of them committed on the other process
        live = follower.take(5)
        seqs = [r["projectEvents"]["seq"] for r in replayed + live]
        assert seqs == list(range(1, 8)) and live[0]["projectEvents"]["actor"] == {"name": "Owner"}
        time.sleep(0.5)
        assert follower.seen.empty()
    finally:
        follower.close()


def test_graphql_ws_from_node_follows_issue_events(realtime, team, factory):
    server = realtime.server()
    token = factory.token(team["owner"])
    issue = rest_issue(server, token, "Watched")
    query = "subscription($id: ID!) { issueEvents(issueId: $id) { seq type project } }"
    node = subprocess.Popen(["node", "tests/support/node/graphql_ws_subscribe.mjs", ws_url(server), token, query,
                             json.dumps({"id": str(issue["id"])}), "1"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert node.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # the subscribe follows the ack
        requests.patch(f"{server.url}/api/v1/issues/{issue['id']}", json={"status": "in_progress"},
                       headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        rest_issue(server, token, "Another issue: not this subscription's")
        line = json.loads(node.stdout.readline())
        assert line == {"data": {"issueEvents": {"seq": 3, "type": "issue.updated", "project": "WEB"}}}
        assert node.wait(15) == 0
    finally:
        node.kill()
        node.communicate()  # and close its pipes


def test_losing_membership_ends_the_subscription_with_forbidden(realtime, team, factory):
    server = realtime.server()
    with raw(server) as connection:
        send(connection, {"type": "connection_init", "payload": {"token": factory.token(team["member"])}})
        received(connection)
        send(connection, {"id": "s", "type": "subscribe", "payload": {"query": FOLLOW, "variables": {"p": "WEB"}}})
        time.sleep(0.3)
        owner = factory.token(team["owner"])
        response = requests.delete(f"{server.url}/api/v1/projects/WEB/members/{team['member'].id}",
                                   headers={"Authorization": f"Bearer {owner}"})
        assert response.status_code == 204
        answer = received(connection)
        while answer["type"] == "next":  # the member.removed event may come first
            answer = received(connection)
        assert answer["type"] == "error" and answer["payload"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_revoked_token_closes_the_socket_with_4403(realtime, team, factory):
    server = realtime.server()
    token = factory.token(team["owner"])
    with raw(server) as connection:
        send(connection, {"type": "connection_init", "payload": {"token": token}})
        received(connection)
        requests.delete(f"{server.url}/api/v1/auth/tokens/current",
                        headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        assert close_code(connection) == 4403


def test_batch_progress_follows_a_batch_to_its_final_state(start_server, team, factory):
    """A server with its embedded worker runs the batch; the subscription sees each step
    and completes after the final state (another user's batch is NOT_FOUND)."""
    server = start_server(EMBEDDED_WORKER="1")
    token = factory.token(team["owner"])
    operations = [{"op": "create", "resource": "issue", "data": {"project": "WEB", "title": f"Batch {n}"}}
                  for n in range(300)]
    accepted = requests.post(f"{server.url}/api/v1/batches", json={"mode": "best_effort", "operations": operations},
                             headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code == 202, accepted.text
    batch_id = str(accepted.json()["id"])
    query = "subscription($id: ID!) { batchProgress(id: $id) { id status done total } }"
    with raw(server) as connection:
        send(connection, {"type": "connection_init", "payload": {"token": factory.token(team["member"])}})
        received(connection)
        send(connection, {"id": "theirs", "type": "subscribe", "payload": {"query": query, "variables": {"id": batch_id}}})
        assert received(connection)["payload"][0]["extensions"]["code"] == "NOT_FOUND"
    with raw(server) as connection:
        send(connection, {"type": "connection_init", "payload": {"token": token}})
        received(connection)
        send(connection, {"id": "b", "type": "subscribe", "payload": {"query": query, "variables": {"id": batch_id}}})
        steps = []
        message = received(connection)
        while message["type"] == "next":
            steps.append(message["payload"]["data"]["batchProgress"])
            message = received(connection)
        assert message == {"id": "b", "type": "complete"}
        assert steps[-1] == {"id": batch_id, "status": "SUCCEEDED", "done": 300, "total": 300}
        assert [step["done"] for step in steps] == sorted(step["done"] for step in steps)
