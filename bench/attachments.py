"""Benchmark attachments against a bare Flask app, in the same run, under the same command.

    .venv/bin/python bench/attachments.py [--engine postgresql|sqlite] [--mb 200] [--big-mb 1024] [--rounds 3]

Both apps are served by ``gunicorn -w 1 -k gthread --threads 8`` over loopback. Upload: a
``--mb`` file through tus in 8 MB PATCHes (Beacon hashes, sniffs and stores it as an
attachment at the last byte) against the same bytes POSTed to a bare endpoint that
streams them to a file (target: at least 0.5x its MB/s). Download: the attachment's
content against ``send_file`` of the same file (target: at least 0.7x). A deduplicated
upload: a creation naming the SHA-256 of bytes already stored (target: under 50 ms), beside
a plain GET of one issue for the scale of the host at that moment.
Memory: the server's RSS growth during a ``--big-mb`` upload in one PATCH (target: under
30 MB). Turns alternate between the two apps; the best turn of each counts.
"""
import argparse
import base64
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import database_url_for, drop_database, migrate, seed_issues  # noqa: E402
from tests.support.live import Process, free_port  # noqa: E402

MB = 1024 * 1024
CHUNK = 8 * MB
TUS = {"Tus-Resumable": "1.0.0"}


def serve(target, env, log):
    port = free_port()
    process = Process([str(ROOT / ".venv/bin/gunicorn"), "-w", "1", "-k", "gthread", "--threads", "8",
                       "--no-control-socket", "-b", f"127.0.0.1:{port}", "--log-level", "warning", target], env, log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(f"{url}/healthz", timeout=5).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(process.output())


def metadata(**values):
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in values.items())


def tus_upload(url, auth, issue_id, path, chunk=CHUNK, extra=None):
    """Upload the file at ``path`` through tus; return the attachment id."""
    size = path.stat().st_size
    created = requests.post(f"{url}/api/v1/uploads", timeout=30, headers={
        **auth, **TUS, "Upload-Length": str(size),
        "Upload-Metadata": metadata(filename=path.name, issue_id=issue_id, **(extra or {}))})
    created.raise_for_status()
    location, offset = created.headers["Location"], int(created.headers["Upload-Offset"])
    attachment = created.headers.get("Beacon-Attachment-Id")
    with open(path, "rb") as handle:
        while offset < size:
            handle.seek(offset)
            body = handle if chunk is None else handle.read(chunk)
            response = requests.patch(location, data=body, timeout=600, headers={
                **auth, **TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset),
                **({"Content-Length": str(size - offset)} if chunk is None else {})})
            response.raise_for_status()
            offset = int(response.headers["Upload-Offset"])
            attachment = response.headers.get("Beacon-Attachment-Id") or attachment
    return attachment


def bare_upload(url, path):
    with open(path, "rb") as handle:
        requests.post(f"{url}/upload", data=handle, timeout=600).raise_for_status()


def download(url, headers=None):
    size = 0
    with requests.get(url, headers=headers or {}, stream=True, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_content(MB):
            size += len(chunk)
    return size


def timed(func, *args, **kwargs):
    started = time.perf_counter()
    func(*args, **kwargs)
    return time.perf_counter() - started


def worker_pid(master):
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_file(path, megabytes):
    block = os.urandom(MB)
    with open(path, "wb") as out:
        for n in range(megabytes):
            out.write(block[n % 256:] + block[:n % 256])  # every MB differs: nothing to compress or dedup


def peak_rss_during(pid, func, *args):
    """``(RSS before, peak RSS while func ran)`` of process ``pid``, sampled every 20 ms."""
    before, peak, done = rss_mb(pid), [0.0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        func(*args)
    finally:
        done.set()
        sampler.join()
    return before, peak[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="postgresql")
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-attachments-"))
    url = database_url_for(args.engine, work, "attachments")
    processes = []
    try:
        migrate(url)
        token, issue_id = seed_issues(url, 1)
        auth = {"Authorization": f"Bearer {token}"}
        env = {"DATABASE_URL": url, "BEACON_INSTANCE_PATH": str(work / "instance"), "EMBEDDED_WORKER": "0",
               "ATTACHMENT_MAX_BYTES": str(4096 * MB), "ATTACHMENT_PROJECT_QUOTA_BYTES": str(1 << 40),
               "RATE_LIMIT_API": "100000/minute", "PERFORMANCE_TRACKING": "0", "LOG_LEVEL": "WARNING"}
        beacon, beacon_url = serve("wsgi:app", env, work / "beacon.log")
        bare, bare_url = serve("bench.bare_upload:app", {"BARE_UPLOAD_DIR": str(work)}, work / "bare.log")
        processes += [beacon, bare]
        source = work / "upload.bin"
        write_file(source, args.mb)

        turns = {"tus": [], "bare": [], "get": [], "send_file": []}
        attachment = None
        for turn in range(args.rounds):
            # A byte differs per turn so that each upload is new bytes, not a dedup.
            with open(source, "r+b") as handle:
                handle.write(bytes([turn]))
            turns["tus"].append(timed(lambda: turns.setdefault("ids", []).append(
                tus_upload(beacon_url, auth, issue_id, source))))
            turns["bare"].append(timed(bare_upload, bare_url, source))
        attachment = turns["ids"][-1]
        content = f"{beacon_url}/api/v1/attachments/{attachment}/content"
        for _ in range(args.rounds):
            turns["get"].append(timed(download, content, auth))
            turns["send_file"].append(timed(download, f"{bare_url}/file"))
        size_mb = args.mb
        rate = {name: size_mb / min(seconds) for name, seconds in turns.items() if name != "ids"}

        sha = hashlib.sha256(source.read_bytes()).hexdigest()
        dedup = []
        for n in range(20):
            dedup.append(timed(lambda: requests.post(f"{beacon_url}/api/v1/uploads", timeout=30, headers={
                **auth, **TUS, "Upload-Length": str(source.stat().st_size),
                "Upload-Metadata": metadata(filename=f"copy{n}.bin", issue_id=issue_id, sha256=sha)})
                .raise_for_status()) * 1000)
        # For scale on this host at this moment: a plain authenticated read of one issue.
        reads = [timed(lambda: requests.get(f"{beacon_url}/api/v1/issues/{issue_id}", headers=auth, timeout=30)
                       .raise_for_status()) * 1000 for _ in range(20)]

        big = work / "big.bin"
        write_file(big, args.big_mb)
        pid = worker_pid(beacon.popen.pid)
        before, peak = peak_rss_during(pid, lambda: tus_upload(beacon_url, auth, issue_id, big, chunk=None))

        print(f"attachments benchmark ({args.engine}, gunicorn -w 1 -k gthread --threads 8, loopback)")
        print(f"  upload {size_mb} MB   tus 8 MB chunks {rate['tus']:7.1f} MB/s   bare POST {rate['bare']:7.1f} MB/s"
              f"   ratio {rate['tus'] / rate['bare']:.2f} (target >= 0.5)")
        print(f"  download {size_mb} MB content {rate['get']:7.1f} MB/s   send_file {rate['send_file']:7.1f} MB/s"
              f"   ratio {rate['get'] / rate['send_file']:.2f} (target >= 0.7)")
        print(f"  dedup upload   median {statistics.median(dedup):.1f} ms   max {max(dedup):.1f} ms (target < 50 ms)"
              f"   [GET one issue: median {statistics.median(reads):.1f} ms]")
        print(f"  {args.big_mb} MB upload in one PATCH   server RSS {before:.0f} MB -> peak {peak:.0f} MB"
              f"   growth {peak - before:.1f} MB (target < 30 MB)")
    finally:
        for process in processes:
            process.kill()
        drop_database(args.engine, url)
        for path in work.rglob("*.bin"):
            path.unlink()


if __name__ == "__main__":
    main()
