"""Under eventlet (gunicorn -k eventlet), a database call that waits must not stall the loop.

This guards the driver choice in app/config.py: with psycopg 3 under eventlet, /healthz
here stalls until the lock is released (checked by forcing that driver).
"""
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.live import ROOT, Process, free_port


@pytest.fixture
def eventlet_server(database_url, tmp_path):
    port = free_port()
    plain_url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    process = Process([str(ROOT / ".venv/bin/gunicorn"), "-k", "eventlet", "-w", "1", "-b", f"127.0.0.1:{port}",
                       "wsgi:app"], {"DATABASE_URL": plain_url, "EMBEDDED_WORKER": "0"}, tmp_path / "gunicorn.log")
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{url}/healthz", timeout=2)
            break
        except requests.RequestException:
            time.sleep(0.1)
    yield url
    process.kill()


@pytest.mark.backends("postgresql")
def test_a_waiting_query_does_not_block_other_requests(eventlet_server, database_url, factory):
    owner = factory.user()
    factory.project(owner, "WEB")
    headers = factory.headers(owner)
    locker = create_engine(database_url)
    with locker.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("SELECT * FROM projects WHERE key = 'WEB' FOR UPDATE"))  # the create must wait
        result = {}
        writer = threading.Thread(target=lambda: result.update(response=requests.post(
            f"{eventlet_server}/api/v1/projects/WEB/issues", json={"title": "waits"}, headers=headers, timeout=30)))
        writer.start()
        time.sleep(0.3)  # the create is now waiting on the row lock inside PostgreSQL
        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            assert requests.get(f"{eventlet_server}/healthz", timeout=5).ok
            latencies.append(time.perf_counter() - started)
            time.sleep(0.1)
        assert writer.is_alive() and max(latencies) < 0.5, latencies
        transaction.rollback()  # release the lock
    writer.join(10)
    locker.dispose()
    assert result["response"].status_code == 201
