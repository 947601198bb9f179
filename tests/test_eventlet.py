"""Under eventlet, a slow query or a password hash must not stall the green loop (the entry
point patches)."""
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.live import ROOT

pytestmark = pytest.mark.backends("postgresql")

TICKER = """
import json, time
import eventlet
gaps = []
def tick():
    last = time.monotonic()
    while True:
        eventlet.sleep(0.05)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
"""

THROUGH_THE_APP = """
import runpy
runpy.run_path("app.py", run_name="entry")  # the entry point: monkey patching comes first
""" + TICKER + """
from sqlalchemy import text
from app import create_app
from app.extensions import db
app = create_app()
eventlet.spawn(tick)
eventlet.sleep(0.2)
with app.app_context():
    db.session.execute(text("SELECT pg_sleep(1)"))
    driver = db.engine.url.drivername
eventlet.sleep(0.1)  # let the ticker record the last gap
print(json.dumps({"driver": driver, "max_gap": max(gaps), "ticks": len(gaps)}))
"""

UNPATCHED_DRIVER = """
import eventlet
eventlet.monkey_patch(psycopg=False)  # monkey_patch() alone also makes psycopg2 cooperative
""" + TICKER + """
import os, psycopg2
connection = psycopg2.connect(os.environ["DSN"])
eventlet.spawn(tick)
eventlet.sleep(0.2)
connection.cursor().execute("SELECT pg_sleep(1)")
eventlet.sleep(0.1)  # let the ticker record the gap
print(json.dumps({"max_gap": max(gaps), "ticks": len(gaps)}))
"""


def run(script, env):
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_slow_query_does_not_stall_the_loop_under_eventlet(database_url, tmp_path):
    plain_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    app_env = {"SOCKETIO_ASYNC_MODE": "eventlet", "DATABASE_URL": plain_url, "BEACON_INSTANCE_PATH": str(tmp_path),
               "EMBEDDED_WORKER": "0"}
    with ThreadPoolExecutor(2) as pool:
        patched = pool.submit(run, THROUGH_THE_APP, app_env)
        control = pool.submit(run, UNPATCHED_DRIVER, {"DSN": plain_url.replace("postgresql://", "postgres://")})
        patched, control = patched.result(), control.result()
    assert patched["driver"] == "postgresql+psycopg2"
    assert patched["max_gap"] < 0.5 and patched["ticks"] >= 15  # the ticker kept going through pg_sleep(1)
    assert control["max_gap"] > 0.9  # the same query on an unpatched driver stalls it: the probe can tell


SIGN_INS = """
import runpy
runpy.run_path("app.py", run_name="entry")  # the entry point: monkey patching comes first
import hashlib, json, time
import eventlet
from werkzeug.security import generate_password_hash
from app import create_app
from app.extensions import db
from app.models import User

real_scrypt, hashing = hashlib.scrypt, []
def timed_scrypt(*args, **kwargs):  # werkzeug looks it up on each hash: note when each one ran
    started = time.monotonic()
    try:
        return real_scrypt(*args, **kwargs)
    finally:
        hashing.append((started, time.monotonic()))
hashlib.scrypt = timed_scrypt

ticks = []
def tick():
    while True:
        eventlet.sleep(0.005)
        ticks.append(time.monotonic())

def ticks_while_hashing():
    return sum(1 for at in ticks for started, ended in hashing if started < at < ended)

app = create_app()
with app.app_context():
    db.session.add(User(email="ada@example.test", name="Ada", password_hash=generate_password_hash("right")))
    db.session.commit()
hashing.clear()
client = app.test_client()
eventlet.spawn(tick)
eventlet.sleep(0.1)
statuses = [client.post("/api/v1/auth/tokens", json={"email": email, "password": password}).status_code
            for email, password in [("ada@example.test", "right"), ("ada@example.test", "wrong"),
                                    ("nobody@example.test", "right"), ("ada@example.test", "right")]]
during_sign_ins, sign_in_hashes = ticks_while_hashing(), len(hashing)
hashing.clear()
for _ in range(2):  # the control: the same hash inline on the loop
    generate_password_hash("inline")
    eventlet.sleep(0.02)
print(json.dumps({"statuses": statuses, "hashes": sign_in_hashes, "ticks_while_hashing": during_sign_ins,
                  "ticks_while_hashing_inline": ticks_while_hashing(), "inline_hashes": len(hashing)}))
"""


def test_sign_ins_hash_passwords_off_the_loop_under_eventlet(app, database_url, tmp_path):  # app: emptied after
    plain_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    seen = run(SIGN_INS, {"SOCKETIO_ASYNC_MODE": "eventlet", "DATABASE_URL": plain_url,
                          "BEACON_INSTANCE_PATH": str(tmp_path), "EMBEDDED_WORKER": "0"})
    assert seen["statuses"] == [201, 401, 401, 201] and seen["hashes"] == 4
    assert seen["ticks_while_hashing"] >= 4  # the loop went on while each password was hashed
    assert seen["inline_hashes"] == 2 and seen["ticks_while_hashing_inline"] == 0  # the probe can tell


RECYCLED_DESCRIPTOR = """
import runpy
runpy.run_path("app.py", run_name="entry")  # the entry point: monkey patching comes first
import json, os
import eventlet
from eventlet.hubs import IOClosed, trampoline
from eventlet.patcher import original
from app import create_app
from app.extensions import db

app = create_app()
with app.app_context():
    engine = db.engine
# A descriptor closed in C under a green thread that waits on it (as libpq closes its own),
# so that the hub still holds that thread's listener for the number.
left, right = original("socket").socketpair()
number = left.detach()

def wait_on(number):
    try:
        trampoline(number, read=True)
        return "woken"
    except IOClosed:  # the hub's word that its descriptor is gone
        return "IOClosed"

waiter = eventlet.spawn(wait_on, number)
eventlet.sleep(0)
os.close(number)
outcome = {}
try:
    with engine.connect() as connection:  # libpq's new socket takes the lowest free number: that one
        outcome["same_number"] = connection.connection.dbapi_connection.fileno() == number
        outcome["answer"] = connection.exec_driver_sql("SELECT 41 + 1").scalar()
except RuntimeError as error:
    outcome["error"] = str(error)[:60]
outcome["waiter"] = waiter.wait()
print(json.dumps(outcome))
"""


def test_a_database_connection_on_a_recycled_descriptor_works_under_eventlet(database_url, tmp_path):
    """Found by bench/reliability.py: libpq's sockets are opened out of the hub's sight, and a
    new connection whose descriptor number had a stale listener failed ("Second
    simultaneous read on fileno N"), a 500. The stale waiter must be told instead."""
    plain_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    seen = run(RECYCLED_DESCRIPTOR, {"SOCKETIO_ASYNC_MODE": "eventlet", "DATABASE_URL": plain_url,
                                     "BEACON_INSTANCE_PATH": str(tmp_path), "EMBEDDED_WORKER": "0"})
    assert seen == {"same_number": True, "answer": 42, "waiter": "IOClosed"}
