"""Structured logs: one JSON object a line, with the request id, or the job id in workers.

``configure_logging(app)`` is called by ``create_app``; nothing is set up at import time.
"""
import json
import logging
import sys
import time

from flask import g, has_request_context
from rq import get_current_job

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged too.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line: time, level, logger, message, ids and extras."""

    def format(self, record):
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class ContextFilter(logging.Filter):
    """Add ``request_id`` inside a request and ``job_id`` inside an RQ job."""

    def filter(self, record):
        if has_request_context() and "request_id" in g and not hasattr(record, "request_id"):
            record.request_id = g.request_id
        if not hasattr(record, "job_id"):
            job_id = _current_job_id()
            if job_id:
                record.job_id = job_id
        return True


def _current_job_id():
    try:
        job = get_current_job()
    except Exception:  # no job context (or no connection): not inside a job
        return None
    return job.id if job is not None else None


class StderrHandler(logging.StreamHandler):
    """Write to whatever ``sys.stderr`` is now (a test's capture replaces it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_logging(app):
    """Send the root logger's records to stderr as the app's settings say (once per process)."""
    configure_root(app.config.get("LOG_LEVEL", "INFO"), app.config.get("LOG_FORMAT", "json"))


def configure_root(level, log_format):
    """Send the root logger's records to stderr as JSON lines, or plain text (once per
    process; a forked child keeps its parent's handler). The server calls it before any app
    exists, so that gunicorn's own messages are JSON lines too."""
    root = logging.getLogger()
    if any(getattr(handler, "_beacon", False) for handler in root.handlers):
        return
    handler = StderrHandler()
    handler._beacon = True
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # RQ's worker adds its own plain handler only when no ancestor has one: ours serves it.
    # RQ's cron scheduler logs at INFO each job it registers and each it enqueues (the batch
    # reaper every 5 s): routine. worker.Scheduler logs the enqueued ones itself, at DEBUG.
    logging.getLogger("rq.cron").setLevel(logging.WARNING)
