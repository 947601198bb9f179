"""Benchmark the bounded process-wide state of the real-time layer against the unbounded
dicts it replaced (issue 17).

    .venv/bin/python bench/process_state.py [--projects 10000] [--rounds 5] [--threads 8]

Two measurements, each against its baseline in the same run:

- the sequencer's process lock per project (``sequencer.ProcessLocks``, dropped once no
  writer holds or waits for it) against the ``defaultdict(threading.Lock)`` under a guard
  that kept one for every project key ever seen: ``--threads`` writers take and release
  the lock of each of ``--projects`` keys in turn;
- batch progress (``broadcast.batch_progress``, which now sweeps idle batches) against the
  same call with the sweep taken out, for ``--projects`` batches of two calls each.

Prints microseconds per lock round trip and per progress call, the ratios, and how many
entries each way leaves behind.
"""
import argparse
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.realtime import broadcast  # noqa: E402
from app.realtime.sequencer import ProcessLocks  # noqa: E402


class UnboundedLocks:
    """The baseline: what the sequencer did before, a lock per key kept for ever."""

    def __init__(self):
        self.guard, self.locks = threading.Lock(), defaultdict(threading.Lock)

    def acquire(self, key):
        with self.guard:
            lock = self.locks[key]
        lock.acquire()
        return lock

    def release(self, key):
        self.locks[key].release()

    def __len__(self):
        return len(self.locks)


def time_locks(locks, keys, threads):
    def writer():
        for key in keys:
            locks.acquire(key)
            locks.release(key)

    workers = [threading.Thread(target=writer) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - started) / (len(keys) * threads) * 1e6


def time_progress(batches, sweep):
    broadcast.emit = lambda name, payload, to: None  # no Socket.IO here: the bookkeeping alone
    broadcast._progress.clear()
    real_sweep = broadcast._drop_idle_progress
    if not sweep:
        broadcast._drop_idle_progress = lambda: None
    try:
        started = time.perf_counter()
        for batch_id in batches:
            for done in (1, 2):  # the second finishes the batch's counts: sent at once, no timer
                broadcast.batch_progress({"id": batch_id, "done": done, "total": 2, "succeeded": done, "failed": 0},
                                         user_id=1)
        elapsed = (time.perf_counter() - started) / (2 * len(batches)) * 1e6
    finally:
        broadcast._drop_idle_progress = real_sweep
    return elapsed, len(broadcast._progress)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    keys = [f"P{i}" for i in range(args.projects)]
    bounded, unbounded, left = [], [], {}
    for _ in range(args.rounds):  # alternating turns
        locks = UnboundedLocks()
        unbounded.append(time_locks(locks, keys, args.threads))
        left["unbounded"] = len(locks)
        locks = ProcessLocks()
        bounded.append(time_locks(locks, keys, args.threads))
        left["bounded"] = len(locks)
    base, ours = statistics.median(unbounded), statistics.median(bounded)
    print(f"process locks, {args.threads} writers x {args.projects} projects, median of {args.rounds}:")
    print(f"  unbounded dict (baseline) {base:.2f} us per lock, {left['unbounded']} locks left")
    print(f"  ProcessLocks              {ours:.2f} us per lock, {left['bounded']} locks left")
    print(f"  ratio {ours / base:.2f}x")

    broadcast.PROGRESS_KEPT = 0  # every batch is idle by the next call: the sweep's worst case
    swept, kept, left = [], [], {}
    for round_number in range(args.rounds):
        batches = range(round_number * args.projects, (round_number + 1) * args.projects)
        elapsed, left["kept"] = time_progress(batches, sweep=False)
        kept.append(elapsed)
        elapsed, left["swept"] = time_progress(batches, sweep=True)
        swept.append(elapsed)
    base, ours = statistics.median(kept), statistics.median(swept)
    print(f"batch progress, {args.projects} batches x 2 calls, median of {args.rounds}:")
    print(f"  no sweep (baseline) {base:.2f} us per call, {left['kept']} batches left")
    print(f"  idle sweep          {ours:.2f} us per call, {left['swept']} batches left")
    print(f"  ratio {ours / base:.2f}x")


if __name__ == "__main__":
    main()
