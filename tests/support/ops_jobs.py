"""Job functions the operations tests enqueue (importable by worker processes)."""
import logging

from app.worker import in_app_context

log = logging.getLogger("tests.ops_jobs")


@in_app_context
def add(a, b):
    log.info("adding")
    return {"sum": a + b}


@in_app_context
def explode(message):
    raise ValueError(message)
