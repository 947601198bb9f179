"""Batch test helpers: submit through the API, run the queued job with a real RQ worker."""
import pytest


@pytest.fixture
def batches(app, client, factory):
    """Submit batches and run their jobs in this process, on a private fakeredis queue."""
    import fakeredis

    from app.worker import set_job_app
    from tests.support.jobs import run_queued_jobs

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
            run_queued_jobs(app)
            db.session.remove()

        def run(self, headers, operations, mode="best_effort", dry_run=False):
            """Submit, run, and return ``(batch, results)``."""
            response = self.post(headers, operations, mode, dry_run)
            assert response.status_code == 202, response.get_json()
            self.work()
            return self.get(headers, response.json["id"])

        def get(self, headers, batch_id):
            from app.extensions import db

            db.session.remove()  # the test client shares the test's session: drop its snapshot
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


@pytest.fixture
def start_worker(database_url, redis_url, tmp_path):
    """Start real `flask worker` processes on this backend's database and the test's Redis."""
    import sys

    from tests.conftest import INSTANCE
    from tests.support.live import Process

    workers = []

    def start(*flags, **env):
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "BEACON_INSTANCE_PATH": INSTANCE,
               "BATCH_LEASE_SECONDS": "2", "BATCH_REAPER_SECONDS": "1", **env}
        args = [sys.executable, "-m", "flask", "--app", "app", "worker", *flags]
        workers.append(Process(args, env, tmp_path / f"worker{len(workers)}.log"))
        return workers[-1]

    yield start
    for worker in workers:
        for pid in children(worker.popen.pid):
            kill_quietly(pid)
        worker.kill()


def children(pid):
    """The pids of a process's children (an RQ worker's work horse)."""
    from pathlib import Path

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def kill_quietly(pid):
    import os
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
