"""Issues, their labels, status history and comments."""
from ..extensions import db
from .base import BigId, utcnow

STATUSES = ("open", "in_progress", "resolved", "closed")
PRIORITIES = ("low", "medium", "high", "critical")
DONE_STATUSES = ("resolved", "closed")


class Issue(db.Model):
    __tablename__ = "issues"
    __table_args__ = (
        db.UniqueConstraint("project_id", "number", name="uq_issues_project_number"),
        db.Index("ix_issues_project_created", "project_id", "created_at", "id"),
        db.Index("ix_issues_project_updated", "project_id", "updated_at", "id"),
        db.Index("ix_issues_project_status", "project_id", "status"),
        db.Index("ix_issues_resolved_at", "resolved_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    number = db.Column(db.Integer, nullable=False)
    title = db.Column(db.String(200), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    status = db.Column(db.String(16), nullable=False, default="open")
    priority = db.Column(db.String(16), nullable=False, default="medium")
    assignee_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    reporter_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    resolved_at = db.Column(db.DateTime)
    version = db.Column(db.Integer, nullable=False, default=1)

    project = db.relationship("Project")
    label_rows = db.relationship(
        "IssueLabel", cascade="all, delete-orphan", passive_deletes=True,
        order_by="IssueLabel.name", lazy="selectin",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def labels(self):
        return [row.name for row in self.label_rows]


class IssueLabel(db.Model):
    __tablename__ = "issue_labels"

    issue_id = db.Column(db.Integer, db.ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True)
    name = db.Column(db.String(50), primary_key=True)
    __table_args__ = (db.Index("ix_issue_labels_name", "name"),)


class IssueStatusChange(db.Model):
    """One row per status transition; creation is recorded as None -> open."""

    __tablename__ = "issue_status_changes"
    __table_args__ = (db.Index("ix_status_changes_project_at", "project_id", "at"),)

    id = db.Column(BigId, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issues.id", ondelete="CASCADE"), nullable=False, index=True)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    from_status = db.Column(db.String(16))
    to_status = db.Column(db.String(16), nullable=False)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))


class Comment(db.Model):
    __tablename__ = "comments"
    __table_args__ = (db.Index("ix_comments_issue_created", "issue_id", "created_at", "id"),)

    id = db.Column(db.Integer, primary_key=True)
    issue_id = db.Column(db.Integer, db.ForeignKey("issues.id", ondelete="CASCADE"), nullable=False)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    author_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    issue = db.relationship("Issue")

    __mapper_args__ = {"version_id_col": version}
