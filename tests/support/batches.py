"""Batch test helpers: submit through the API, run the queued job with a real RQ worker."""
import pytest


@pytest.fixture
def batches(app, client, factory):
    """Submit batches and run their jobs in this process, on a private fakeredis queue."""
    import fakeredis
    from rq import SimpleWorker

    from app.worker import get_queue, get_redis, set_job_app

    app.extensions["beacon_redis"] = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    set_job_app(app)

    class Batches:
        def post(self, headers, operations=None, mode="best_effort", dry_run=False, body=None, **kwargs):
            body = body if body is not None else {"mode": mode, "dry_run": dry_run, "operations": operations}
            return client.post("/api/v1/batches", json=body, headers=headers, **kwargs)

        def work(self):
            """Run every queued job with an RQ worker (burst), as `flask worker` would."""
            from app.extensions import db

            db.session.remove()
            SimpleWorker([get_queue(app)], connection=get_redis(app)).work(burst=True, logging_level="WARNING")
            db.session.remove()

        def run(self, headers, operations, mode="best_effort", dry_run=False):
            """Submit, run, and return ``(batch, results)``."""
            response = self.post(headers, operations, mode, dry_run)
            assert response.status_code == 202, response.get_json()
            self.work()
            return self.get(headers, response.json["id"])

        def get(self, headers, batch_id):
            batch = client.get(f"/api/v1/batches/{batch_id}", headers=headers).json
            results, cursor = [], None
            while True:
                page = client.get(f"/api/v1/batches/{batch_id}/results", headers=headers,
                                  query_string={"limit": 200, **({"cursor": cursor} if cursor else {})}).json
                results += page["items"]
                cursor = page["next_cursor"]
                if not cursor:
                    return batch, results

    yield Batches()
    set_job_app(None)


def create(title, project="WEB", lid=None, **data):
    op = {"op": "create", "resource": "issue", "data": {"project": project, "title": title, **data}}
    if lid:
        op["lid"] = lid
    return op


def comment(body, issue_lid=None, issue_id=None):
    target = {"issue_lid": issue_lid} if issue_lid else {"issue_id": issue_id}
    return {"op": "create", "resource": "comment", "data": {**target, "body": body}}
