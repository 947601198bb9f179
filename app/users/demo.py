"""Demo data, only ever written by ``flask seed-demo``, and only into a new installation:
the demo users all have the same published password, so in a database in use they would
be accounts anyone can sign in to."""
import random
from datetime import timedelta

from sqlalchemy import func, select, update

from ..comments.service import create_comment
from ..extensions import db
from ..issues.service import create_issue, update_issue
from ..models import Issue, IssueStatusChange, Project, User
from ..models.base import utcnow
from ..projects.service import create_project, invite_member
from .service import create_user

PEOPLE = [("ada@demo.beacon", "Ada Lovelace"), ("grace@demo.beacon", "Grace Hopper"),
          ("linus@demo.beacon", "Linus Torvalds"), ("margaret@demo.beacon", "Margaret Hamilton")]
PROJECTS = [("WEB", "Website", "The public website"), ("API", "Public API", "The REST API and SDKs")]
WORDS = ("login", "dashboard", "export", "search", "billing", "cache", "timeout", "upload", "mobile",
         "report", "sync", "theme", "invite", "webhook", "pagination")
LABELS = ("bug", "feature", "ux", "backend", "frontend", "docs")
FLOW = ("in_progress", "resolved", "closed")


class NotEmpty(Exception):
    """The database holds data of its own; demo data must not mix with it."""


def require_new_installation():
    """Raise NotEmpty unless the database has no project and no user but the first admin
    (``make run`` creates one before anyone can run seed-demo)."""
    users = db.session.scalar(select(func.count(User.id)))
    projects = db.session.scalar(select(func.count(Project.id)))
    if projects or users > 1:
        raise NotEmpty(f"the database is not empty ({users} users, {projects} projects): seed-demo fills only a "
                       "new installation, since every demo user has the same known password")


def seed_demo(issues_per_project=300, seed=7):
    """Create demo users, two projects and their issues in a new installation; return a
    one-line summary. Raises NotEmpty when the database holds data already."""
    require_new_installation()
    rng = random.Random(seed)
    users = [create_user(email, name, "demo-password") for email, name in PEOPLE]
    now = utcnow()
    made = 0
    for key, name, description in PROJECTS:
        project = create_project(users[0], key, name, description)
        for other in users[1:]:
            invite_member(project, users[0], other.email, rng.choice(["member", "member", "maintainer"]))
        for _ in range(issues_per_project):
            _seed_issue(rng, project, users, now)
            made += 1
    return f"demo users: {', '.join(email for email, _ in PEOPLE)} (password demo-password); {made} issues"


def _seed_issue(rng, project, users, now):
    reporter = rng.choice(users)
    words = rng.sample(WORDS, 3)
    issue = create_issue(project, reporter, {
        "title": f"{words[0].capitalize()} {words[1]} fails after {words[2]}",
        "description": f"Steps: open {words[0]}, then {words[1]}. Expected {words[2]} to work.",
        "priority": rng.choice(["low", "medium", "medium", "high", "critical"]),
        "assignee_id": rng.choice(users).id if rng.random() < 0.8 else None,
        "labels": rng.sample(LABELS, rng.randint(0, 2)),
    })
    steps = rng.choice([0, 1, 2, 2, 3])
    for status in FLOW[:steps]:
        update_issue(issue, rng.choice(users), {"status": status})
    for _ in range(rng.randint(0, 3)):
        create_comment(issue, rng.choice(users), f"Looked into {rng.choice(WORDS)}; {rng.choice(WORDS)} next.")
    _backdate(rng, issue, now)


def _backdate(rng, issue, now):
    """Spread the issue's history over the last 60 days so the charts have a shape."""
    created = now - timedelta(days=rng.uniform(1, 60))
    changes = db.session.scalars(select(IssueStatusChange).where(IssueStatusChange.issue_id == issue.id)
                                 .order_by(IssueStatusChange.id)).all()
    at = created
    for change in changes:
        change.at = at
        at = min(now, at + timedelta(hours=rng.uniform(2, 96)))
    last = changes[-1].at
    db.session.execute(update(Issue).where(Issue.id == issue.id).values(
        created_at=created, updated_at=last,
        resolved_at=last if issue.status in ("resolved", "closed") else None,
        version=Issue.version))
    db.session.commit()
