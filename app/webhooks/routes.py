"""Routes: /api/v1/projects/{key}/webhooks, /api/v1/admin/webhooks, /api/v1/webhooks/..."""
from ..auth.permissions import load_project
from ..auth.tokens import current_user, require_admin
from ..versions import etag, if_match_version
from ..pagination import PageArgs, page_schema
from . import bp, service
from .schemas import DeliveryDetail, DeliveryOutput, WebhookInput, WebhookOutput, WebhookPatch, WebhookWithSecret

WebhookPage = page_schema(WebhookOutput, "WebhookPage")
DeliveryPage = page_schema(DeliveryOutput, "DeliveryPage")


def _created(webhook, key):
    return service.webhook_with_secret(webhook, key), 201, etag(webhook.version)


def _page(page, key):
    page["items"] = [service.webhook_dict(w, key) for w in page["items"]]
    return page


@bp.route("/projects/<string:key>/webhooks", methods=["POST"])
@bp.arguments(WebhookInput)
@bp.response(201, WebhookWithSecret)
def create_project_webhook(data, key):
    """Create a webhook of the project (maintainers). The answer is the only one with its secret."""
    user = current_user()
    project = load_project(key, user, role="maintainer")
    return _created(service.create_webhook(project, user, data), project.key)


@bp.route("/projects/<string:key>/webhooks", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, WebhookPage)
def list_project_webhooks(args, key):
    project = load_project(key, current_user(), role="maintainer")
    return _page(service.list_webhooks(project.id, args["limit"], args["cursor"]), project.key)


@bp.route("/admin/webhooks", methods=["POST"])
@bp.arguments(WebhookInput)
@bp.response(201, WebhookWithSecret)
def create_admin_webhook(data):
    """Create an admin webhook, for backup.* and alert.* events (admins)."""
    return _created(service.create_webhook(None, require_admin(), data), None)


@bp.route("/admin/webhooks", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, WebhookPage)
def list_admin_webhooks(args):
    require_admin()
    return _page(service.list_webhooks(None, args["limit"], args["cursor"]), None)


@bp.route("/webhooks/<int:webhook_id>", methods=["GET"])
@bp.response(200, WebhookOutput)
def get_webhook(webhook_id):
    webhook, key = service.load_webhook(webhook_id, current_user())
    return service.webhook_dict(webhook, key), 200, etag(webhook.version)


@bp.route("/webhooks/<int:webhook_id>", methods=["PATCH"])
@bp.arguments(WebhookPatch)
@bp.response(200, WebhookOutput)
def update_webhook(data, webhook_id):
    """Change a webhook; making it active again clears ``disabled_reason``."""
    user = current_user()
    webhook, key = service.load_webhook(webhook_id, user)
    webhook = service.update_webhook(webhook, user, data, if_match_version())
    return service.webhook_dict(webhook, key), 200, etag(webhook.version)


@bp.route("/webhooks/<int:webhook_id>", methods=["DELETE"])
@bp.response(204)
def delete_webhook(webhook_id):
    user = current_user()
    webhook, _key = service.load_webhook(webhook_id, user)
    service.delete_webhook(webhook, user)


@bp.route("/webhooks/<int:webhook_id>/rotate-secret", methods=["POST"])
@bp.response(200, WebhookWithSecret)
def rotate_secret(webhook_id):
    """A new secret (in this answer only); the old one keeps signing beside it for 24 hours."""
    user = current_user()
    webhook, key = service.load_webhook(webhook_id, user)
    webhook = service.rotate_secret(webhook, user)
    return service.webhook_with_secret(webhook, key), 200, etag(webhook.version)


@bp.route("/webhooks/<int:webhook_id>/ping", methods=["POST"])
@bp.response(202, DeliveryOutput)
def ping_webhook(webhook_id):
    """Queue a ``webhook.ping`` delivery."""
    webhook, _key = service.load_webhook(webhook_id, current_user())
    return service.delivery_dict(service.ping(webhook)), 202


@bp.route("/webhooks/<int:webhook_id>/deliveries", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, DeliveryPage)
def list_deliveries(args, webhook_id):
    """The webhook's deliveries, newest first (kept 30 days)."""
    webhook, _key = service.load_webhook(webhook_id, current_user())
    page = service.list_deliveries(webhook.id, args["limit"], args["cursor"])
    page["items"] = [service.delivery_dict(d) for d in page["items"]]
    return page


@bp.route("/webhooks/deliveries/<int:delivery_id>", methods=["GET"])
@bp.response(200, DeliveryDetail)
def get_delivery(delivery_id):
    """A delivery with each attempt's request and the first 4 KB of its answer."""
    return service.delivery_detail(service.load_delivery(delivery_id, current_user()))


@bp.route("/webhooks/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
@bp.response(202, DeliveryOutput)
def redeliver(delivery_id):
    """Send a delivery again now, under the same id."""
    user = current_user()
    delivery = service.load_delivery(delivery_id, user)
    webhook, _key = service.load_webhook(delivery.webhook_id, user)
    return service.delivery_dict(service.redeliver(delivery, webhook)), 202
