"""Response schemas of attachments (requests are tus headers or a multipart form)."""
from marshmallow import Schema, fields

from ..schemas import Timestamp


class AttachmentOutput(Schema):
    id = fields.Integer()
    issue_id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    uploader_id = fields.Integer()
    created_at = Timestamp()
    url = fields.String()
    thumbnail_url = fields.String(allow_none=True)
    preview = fields.Dict(allow_none=True)


class AttachmentForm(Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"})
