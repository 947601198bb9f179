"""Search: matches in the projects the caller can read, best first.

A match in a title (or project name/key) ranks above a match in a description or
comment body; an exact title match ranks highest; ties go to the newest.
"""
from sqlalchemy import case, func, literal, or_, select, union_all

from ..auth.permissions import readable_project_ids
from ..issues.service import escape_like
from ..models import Comment, Issue, Project
from ..pagination import Key, paginate

TYPES = ("project", "issue", "comment")
SNIPPET = 160


def _title_rank(title, q, pattern):
    return case((func.lower(title) == q.lower(), 3), (title.ilike(pattern, escape="\\"), 2), else_=1)


def _project_query(readable, q, pattern):
    match = or_(Project.name.ilike(pattern, escape="\\"), Project.key.ilike(pattern, escape="\\"),
                Project.description.ilike(pattern, escape="\\"))
    rank = case((func.lower(Project.key) == q.lower(), 3), (func.lower(Project.name) == q.lower(), 3),
                (or_(Project.name.ilike(pattern, escape="\\"), Project.key.ilike(pattern, escape="\\")), 2),
                else_=1)
    return select(literal("project").label("type"), Project.id.label("id"), Project.key.label("project"),
                  Project.name.label("title"), Project.description.label("text"), rank.label("rank"),
                  literal(0).label("type_order")).where(Project.id.in_(readable), match)


def _issue_query(readable, q, pattern):
    match = or_(Issue.title.ilike(pattern, escape="\\"), Issue.description.ilike(pattern, escape="\\"))
    return (select(literal("issue").label("type"), Issue.id.label("id"), Project.key.label("project"),
                   (Project.key + "-" + func.cast(Issue.number, Issue.title.type) + ": " + Issue.title).label("title"),
                   Issue.description.label("text"), _title_rank(Issue.title, q, pattern).label("rank"),
                   literal(1).label("type_order"))
            .join(Project, Project.id == Issue.project_id)
            .where(Issue.project_id.in_(readable), match))


def _comment_query(readable, pattern):
    return (select(literal("comment").label("type"), Comment.id.label("id"), Project.key.label("project"),
                   (Project.key + "-" + func.cast(Issue.number, Issue.title.type) + ": " + Issue.title).label("title"),
                   Comment.body.label("text"), literal(1).label("rank"), literal(2).label("type_order"))
            .join(Issue, Issue.id == Comment.issue_id).join(Project, Project.id == Comment.project_id)
            .where(Comment.project_id.in_(readable), Comment.body.ilike(pattern, escape="\\")))


def snippet(text, q):
    """About SNIPPET characters of ``text`` around the first match of ``q``."""
    text = " ".join((text or "").split())
    at = text.lower().find(q.lower())
    start = max(0, at - SNIPPET // 3) if at >= 0 else 0
    piece = text[start:start + SNIPPET]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET < len(text) else "")


def search(user, q, types, limit, cursor):
    readable = readable_project_ids(user)
    pattern = f"%{escape_like(q)}%"
    parts = []
    if "project" in types:
        parts.append(_project_query(readable, q, pattern))
    if "issue" in types:
        parts.append(_issue_query(readable, q, pattern))
    if "comment" in types:
        parts.append(_comment_query(readable, pattern))
    found = union_all(*parts).subquery()
    keys = [Key(found.c.rank, lambda r: r.rank, descending=True),
            Key(found.c.type_order, lambda r: r.type_order),
            Key(found.c.id, lambda r: r.id, descending=True)]
    page = paginate(select(found), keys, limit, cursor, rows=True)
    page["items"] = [{"type": r.type, "id": r.id, "project": r.project, "title": r.title,
                      "snippet": snippet(r.text if q.lower() in (r.text or "").lower() else r.title, q)}
                     for r in page["items"]]
    return page
