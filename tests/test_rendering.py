"""Responses are generated from their output schemas (``schemas.renderer``): one definition."""
from datetime import datetime
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields

from app.comments.schemas import CommentOutput
from app.comments.service import comment_dict
from app.issues.schemas import IssueOutput
from app.issues.service import issue_dict
from app.schemas import Timestamp, renderer


class ThingOutput(Schema):
    id = fields.Integer()
    label = fields.String()
    made_at = Timestamp()
    owner_name = fields.String(attribute="owner.name")


def test_a_rendered_row_holds_exactly_the_schema_fields_in_order():
    render = renderer(ThingOutput, ("prefix",), label=lambda row, prefix: f"{prefix}-{row.id}")
    row = SimpleNamespace(id=7, made_at=datetime(2026, 12, 5, 3, 4, 5, 678000), owner=SimpleNamespace(name="Ada"))
    assert list(render(row, "T").items()) == [("id", 7), ("label", "T-7"), ("made_at", "2026-12-05T03:04:05.678Z"),
                                              ("owner_name", "Ada")]
    assert render(SimpleNamespace(id=1, made_at=None, owner=SimpleNamespace(name="")), "T")["made_at"] is None


def test_a_computed_field_the_schema_lacks_is_refused_when_the_renderer_is_made():
    with pytest.raises(TypeError, match="no field"):
        renderer(ThingOutput, labels=lambda row: [])


def test_the_services_render_what_their_schemas_say():
    now = datetime(2026, 12, 5)
    issue = SimpleNamespace(id=1, number=2, title="t", description="", status="open", priority="medium",
                            assignee_id=None, reporter_id=3, labels=[], created_at=now, updated_at=now,
                            resolved_at=None, version=1)
    assert list(issue_dict(issue, "WEB")) == list(IssueOutput().fields)
    assert issue_dict(issue, "WEB")["key"] == "WEB-2"
    comment = SimpleNamespace(id=1, issue_id=1, author_id=3, body="b", created_at=now, updated_at=now, version=1)
    assert list(comment_dict(comment)) == list(CommentOutput().fields)
