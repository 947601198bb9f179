"""Benchmark the browser's live board against a bare Socket.IO client in the same room.

    .venv/bin/python bench/web.py [--engine postgresql] [--issues 1000] [--writes 40]

One `python app.py` server (threading mode, embedded presence). Chromium (Playwright) shows
the board of a project with ``--issues`` issues; beside it, a python-socketio client joins
the same room. Each write is a POST of an issue; latency runs from just before the POST to
(baseline) the client receiving `issue.created`, and (Beacon's page) the new row being in
the board's DOM, stamped in the page by a MutationObserver. The difference is what the
page adds: the debounce, the list re-fetch and the rendering. Also: the board's first
load, from navigation to the first rows, next to the bare API call that fetches them.
"""
import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate, seed_issues  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.live import Server  # noqa: E402

OBSERVE = """() => {
    window.rowSeen = {};
    new MutationObserver(() => {
        for (const a of document.querySelectorAll('#issue-rows td:nth-child(2) a'))
            if (!(a.textContent in window.rowSeen)) window.rowSeen[a.textContent] = performance.timeOrigin + performance.now();
    }).observe(document.getElementById('issue-rows'), {childList: true, subtree: true});
}"""


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="postgresql")
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=40)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="beacon-bench-web-"))
    url = database_url_for(args.engine, workdir, "web")
    migrate(url)
    token, _ = seed_issues(url, args.issues)
    server = Server({"DATABASE_URL": url, "BEACON_INSTANCE_PATH": str(workdir), "EMBEDDED_WORKER": "0"},
                    workdir / "server.log")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        member = requests.get(f"{server.url}/api/v1/projects/WEB/members", headers=headers).json()["items"][0]
        user = {"id": member["user_id"], "name": member["name"], "is_admin": False}
        arrived, lock = {}, threading.Lock()
        client = socketio.Client(reconnection=False)

        @client.on("issue.created", namespace="/realtime")
        def on_created(event):
            with lock:
                arrived[event["data"]["issue"]["title"]] = time.time() * 1000

        client.connect(server.url, auth={"token": token}, namespaces=["/realtime"], transports=["websocket"])
        client.call("join", {"room": "project:WEB"}, namespace="/realtime")

        api_ms = []
        for _ in range(10):
            started = time.perf_counter()
            requests.get(f"{server.url}/api/v1/projects/WEB/issues?limit=50", headers=headers).raise_for_status()
            api_ms.append((time.perf_counter() - started) * 1000)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=server.url)
            context.add_init_script(f"sessionStorage.setItem('beacon.token', {json.dumps(token)});"
                                    f"sessionStorage.setItem('beacon.user', {json.dumps(json.dumps(user))});")
            page = context.new_page()
            load_ms = []
            for _ in range(5):
                page.goto("/projects/WEB")
                page.wait_for_selector("#issue-rows tr")
                page.get_by_text("Live", exact=True).wait_for()
                load_ms.append(page.evaluate("performance.now()"))  # navigation start → rows and socket live
            page.evaluate(OBSERVE)
            socket_ms, page_ms = [], []
            for n in range(args.writes):
                title = f"bench write {n}"
                started = time.time() * 1000
                requests.post(f"{server.url}/api/v1/projects/WEB/issues", json={"title": title},
                              headers=headers).raise_for_status()
                page.wait_for_function("(t) => t in window.rowSeen", arg=title, timeout=10_000)
                seen = page.evaluate("(t) => window.rowSeen[t]", title)
                for _ in range(100):
                    with lock:
                        if title in arrived:
                            break
                    time.sleep(0.01)
                socket_ms.append(arrived[title] - started)
                page_ms.append(seen - started)
                time.sleep(0.3)  # let the board's debounced re-fetch settle before the next write
            browser.close()
        client.disconnect()
    finally:
        server.kill()
        drop_database(args.engine, url)

    def row(name, values):
        print(f"| {name} | {statistics.median(values):.0f} | {percentile(values, 95):.0f} | {max(values):.0f} |")

    print(f"\n{args.engine}, {args.issues} issues, {args.writes} writes\n")
    print("| measure | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|")
    row("POST → bare socket client has issue.created (baseline)", socket_ms)
    row("POST → row on the board in Chromium", page_ms)
    row("API: list 50 issues (baseline)", api_ms)
    row("board: navigation → rows shown and socket live", load_ms)
    print(f"\nlive update: page p50 / socket p50 = {statistics.median(page_ms) / statistics.median(socket_ms):.1f}x; "
          f"page p95 {percentile(page_ms, 95):.0f} ms against the 1,000 ms target")
    print(f"board load: {statistics.median(load_ms) / statistics.median(api_ms):.1f}x one list call")


if __name__ == "__main__":
    main()
