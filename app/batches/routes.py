"""Routes: submit a batch, read it, list batches and results, cancel."""
from flask import request

from ..auth.tokens import current_user
from ..database import reads_first
from ..pagination import PageArgs, page_schema
from . import bp, service
from .schemas import BatchAccepted, BatchInput, BatchOutput, ResultOutput

BatchPage = page_schema(BatchOutput, "BatchPage")
ResultPage = page_schema(ResultOutput, "BatchResultPage")


@bp.route("/batches", methods=["POST"])
@bp.arguments(BatchInput)
@bp.response(202, BatchAccepted)
@bp.alt_response(200, schema=BatchAccepted, description="The batch already submitted with this Idempotency-Key")
def submit_batch(data):
    """Queue a batch of operations; an Idempotency-Key seen in the last 24 h returns its batch."""
    user = current_user()
    key = request.headers.get("Idempotency-Key")
    service.check_idempotency_key(key)
    batch, created = service.submit(user, data, service.body_hash(data), key)
    return service.accepted_dict(batch), 202 if created else 200


@bp.route("/batches", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, BatchPage)
def list_batches(args):
    """List the caller's batches, newest first (admins: everyone's)."""
    page = service.list_batches(current_user(), args["limit"], args["cursor"])
    page["items"] = [service.batch_dict(batch) for batch in page["items"]]
    return page


@bp.route("/batches/<int:batch_id>", methods=["GET"])
@bp.response(200, BatchOutput)
def get_batch(batch_id):
    return service.batch_dict(service.load_batch(batch_id, current_user()))


@bp.route("/batches/<int:batch_id>/results", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, ResultPage)
def list_results(args, batch_id):
    """Per-operation results in operation order."""
    batch = service.load_batch(batch_id, current_user())
    return service.list_results(batch, args["limit"], args["cursor"])


@bp.route("/batches/<int:batch_id>/cancel", methods=["POST"])
@bp.response(202, BatchOutput)
def cancel_batch(batch_id):
    """Stop the batch at its next chunk (409 if it already finished)."""
    with reads_first():  # find the batch and flag it without waiting for a worker's write lock
        batch = service.flag_cancel(service.load_batch(batch_id, current_user()))
    return service.batch_dict(service.cancel(batch))
