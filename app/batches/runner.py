"""Run one batch to the end, resuming after the last committed chunk.

best_effort: chunks of ``BATCH_CHUNK_SIZE``; each chunk's effects, its results and the
batch's counters commit in one transaction, which first claims the chunk by moving
``done`` forward from where it stood (``WHERE done = start``). A worker that died left
``done`` at its last commit; a second worker on the same batch finds its claim taken.
atomic and dry runs: every chunk in one transaction, committed (or, for a dry run, rolled
back) at the end, then the results.

Before each chunk (the first one too) the run reads afresh whether it must stop: a cancel,
or a submitter who is no longer active (the batch ends ``cancelled``, the rest skipped,
saying why). Roles are read afresh too, so a submitter demoted meanwhile is held to the
new role from the next chunk on, in an atomic run as well.
"""
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import undefer

from ..auth.permissions import ROLES_SEEN
from ..bulk import collector_paused, insert_rows
from ..extensions import db
from ..models import Batch, BatchResult, User
from ..models.base import utcnow
from ..realtime import broadcast
from ..redis_client import get_redis
from .operations import CANCELLED, DEACTIVATED, ROLLED_BACK, Applier, OperationFailed, operation_name
from .service import CANCEL_KEY, FINISHED, batch_dict


class Superseded(Exception):
    """Another worker committed this batch's next step first."""


class Cancelled(Exception):
    """The batch must stop; the message says why, for its skipped operations."""


class Runner:
    def __init__(self, batch_id):
        self.batch_id = batch_id
        self.chunk_size = current_app.config["BATCH_CHUNK_SIZE"]

    def run(self):
        with collector_paused():
            return self._run()

    def _run(self):
        batch = db.session.get(Batch, self.batch_id, options=[undefer(Batch.operations)])
        if batch is None or batch.status in FINISHED:
            db.session.rollback()
            return "nothing to do"
        self.user_id, self.total, self.mode = batch.user_id, batch.total, batch.mode
        self.dry_run, self.operations = batch.dry_run, batch.operations
        self.user = db.session.get(User, batch.user_id)
        started = batch.started_at or utcnow()
        db.session.execute(update(Batch).where(Batch.id == batch.id, Batch.status.in_(("queued", "running")))
                           .values(status="running", started_at=started))
        db.session.commit()
        try:
            if self.mode == "atomic" or self.dry_run:
                self._run_in_one_transaction()
            else:
                self._run_in_chunks()
        except Superseded:
            db.session.rollback()
            return "superseded"
        return "finished"

    # --- best effort, committed chunk by chunk ----------------------------------------------

    def _run_in_chunks(self):
        db.session.expire_all()
        batch = db.session.get(Batch, self.batch_id)
        counts = {"done": batch.done, "succeeded": batch.succeeded, "failed": batch.failed}
        applier = Applier(self.user, self.operations, isolate=True, lids=self._committed_lids())
        db.session.commit()
        for start in range(counts["done"], self.total, self.chunk_size):
            db.session.expire_all()  # sessions do not expire on commit: read the submitter afresh
            reason = self._stop_reason()
            if reason is not None:
                return self._finish_cancelled(start, counts, reason)
            indexes = range(start, min(start + self.chunk_size, self.total))
            self._claim(start, start + len(indexes))
            results = applier.apply(indexes)
            ok = sum(1 for status, _id, _e in results.values() if status == "succeeded")
            self._write_results(results)
            db.session.execute(update(Batch).where(Batch.id == self.batch_id).values(
                succeeded=Batch.succeeded + ok, failed=Batch.failed + len(results) - ok))
            db.session.commit()
            counts = {"done": indexes.stop, "succeeded": counts["succeeded"] + ok,
                      "failed": counts["failed"] + len(results) - ok}
            broadcast.batch_progress({"id": self.batch_id, "total": self.total, **counts}, self.user_id)
        self._finish(self._status(counts), None)

    def _claim(self, start, stop):
        claimed = db.session.execute(update(Batch).where(Batch.id == self.batch_id, Batch.done == start,
                                                         Batch.status == "running").values(done=stop)).rowcount
        if claimed != 1:
            raise Superseded()

    def _committed_lids(self):
        rows = db.session.execute(select(BatchResult.index, BatchResult.resource_id).where(
            BatchResult.batch_id == self.batch_id, BatchResult.status == "succeeded"))
        return {self.operations[i]["lid"]: rid for i, rid in rows
                if self.operations[i]["op"] == "create" and self.operations[i].get("lid") is not None}

    # --- atomic and dry runs: one transaction -------------------------------------------------

    def _run_in_one_transaction(self):
        applier = Applier(self.user, self.operations, isolate=self.mode == "best_effort")
        db.session.expire_all()
        self._claim(0, self.total)
        results, counts = {}, {"done": 0, "succeeded": 0, "failed": 0}
        try:
            for start in range(0, self.total, self.chunk_size):
                # Nothing expires inside the transaction: read the submitter and roles afresh.
                db.session.refresh(self.user)
                db.session.info.pop(ROLES_SEEN, None)
                reason = self._stop_reason()
                if reason is not None:
                    raise Cancelled(reason)
                chunk = applier.apply(range(start, min(start + self.chunk_size, self.total)))
                results.update(chunk)
                ok = sum(1 for status, _id, _e in chunk.values() if status == "succeeded")
                counts = {"done": counts["done"] + len(chunk), "succeeded": counts["succeeded"] + ok,
                          "failed": counts["failed"] + len(chunk) - ok}
                broadcast.batch_progress({"id": self.batch_id, "total": self.total, **counts}, self.user_id)
        except OperationFailed as failure:
            db.session.rollback()
            return self._finish_rolled_back(failure)
        except Cancelled as cancelled:
            db.session.rollback()
            return self._finish_cancelled(0, {"done": 0, "succeeded": 0, "failed": 0}, str(cancelled))
        if self.dry_run:
            db.session.rollback()  # a dry run commits nothing; the rollback drops its events too
            self._claim(0, self.total)
        self._write_results(results)
        self._finish(self._status(counts), counts)

    def _finish_rolled_back(self, failure):
        self._claim(0, self.total)
        results = {i: ("skipped", None, ROLLED_BACK) for i in range(self.total)}
        results[failure.index] = ("failed", None, failure.error)
        self._write_results(results)
        self._finish("failed", {"done": self.total, "succeeded": 0, "failed": 1})

    # --- the end ------------------------------------------------------------------------------

    def _finish_cancelled(self, start, counts, reason):
        if start < self.total:
            self._claim(start, self.total)
            self._write_results({i: ("skipped", None, reason) for i in range(start, self.total)})
        self._finish("cancelled", counts)

    def _status(self, counts):
        if counts["failed"] == 0:
            return "succeeded"
        return "failed" if counts["succeeded"] == 0 or self.mode == "atomic" else "partially_succeeded"

    def _finish(self, status, counts):
        """Close the batch in the current transaction: status, counters, duration."""
        batch = db.session.get(Batch, self.batch_id)
        now = utcnow()
        values = {"status": status, "finished_at": now, "done": self.total,
                  "duration_ms": int((now - batch.started_at).total_seconds() * 1000)}
        if counts is not None:
            values.update(succeeded=counts["succeeded"], failed=counts["failed"])
        if db.session.execute(update(Batch).where(Batch.id == self.batch_id, Batch.status == "running")
                              .values(**values)).rowcount != 1:
            raise Superseded()
        db.session.commit()
        db.session.expire_all()
        record = batch_dict(db.session.get(Batch, self.batch_id))
        db.session.commit()
        broadcast.batch_finished(record, self.user_id)

    def _write_results(self, results):
        stored = len(self.operations)  # past them (a total that says more): "unknown"
        insert_rows(BatchResult.__table__, [
            {"batch_id": self.batch_id, "index": i, "status": status, "resource_id": resource_id, "error": error,
             "operation": operation_name(self.operations[i] if i < stored else None)}
            for i, (status, resource_id, error) in sorted(results.items())])

    def give_up(self, error):
        """Close a batch whose runs keep ending in an error: ``failed``, what no chunk
        committed skipped with ``error``. It reads no operation but their names, so that
        whatever made the runs fail cannot make this fail too."""
        batch = db.session.get(Batch, self.batch_id, options=[undefer(Batch.operations)])
        if batch is None or batch.status in FINISHED:
            return
        self.total, self.operations, self.user_id = batch.total, batch.operations, batch.user_id
        if not isinstance(self.operations, list):
            self.operations = []
        batch.status, batch.started_at = "running", batch.started_at or utcnow()
        db.session.commit()
        start = 0 if batch.mode == "atomic" or batch.dry_run else batch.done
        if start < self.total:
            self._claim(start, self.total)
            self._write_results({i: ("skipped", None, error) for i in range(start, self.total)})
        self._finish("failed", {"done": self.total, "succeeded": batch.succeeded if start else 0,
                                "failed": batch.failed if start else 0})

    def _stop_reason(self):
        """Why the batch must stop before its next chunk, or None: a cancel, or a
        submitter who is no longer active. One query, beside the Redis flag."""
        # Inside an atomic run the row is locked by this worker, so a cancel request waits:
        # the Redis flag, set before it waits, is the signal then.
        flagged = get_redis().exists(CANCEL_KEY.format(id=self.batch_id))
        requested, active = db.session.execute(
            select(Batch.cancel_requested, User.active).join(User, User.id == Batch.user_id)
            .where(Batch.id == self.batch_id)).one()
        if not active:
            return DEACTIVATED
        return CANCELLED if flagged or requested else None
