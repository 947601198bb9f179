"""The database model, one module per aggregate."""
from .attachments import Attachment, Blob, Upload
from .audit import AuditEntry
from .backups import Backup
from .batches import Batch, BatchResult
from .events import Event
from .issues import Comment, Issue, IssueLabel, IssueStatusChange
from .notifications import IssueWatcher, Notification
from .projects import Membership, Project
from .users import AccessChange, ApiToken, User
from .webhooks import Webhook, WebhookAttempt, WebhookDelivery

__all__ = [
    "AccessChange", "ApiToken", "Attachment", "AuditEntry", "Backup", "Batch", "BatchResult", "Blob", "Comment", "Event",
    "Issue", "IssueLabel", "IssueStatusChange", "IssueWatcher", "Membership", "Notification", "Project", "Upload", "User",
    "Webhook", "WebhookAttempt", "WebhookDelivery",
]
