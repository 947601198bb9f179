"""Benchmark rendering responses: the functions ``schemas.renderer`` generates from the
output schemas, against a hand-written dict literal (the baseline: what the services held
before) and against marshmallow's ``dump`` (what flask-smorest would do per response).

    .venv/bin/python bench/render.py [--rows 50] [--rounds 2000]

Prints microseconds per row and the ratios, for issues and comments; no database.
"""
import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from app.comments.schemas import CommentOutput  # noqa: E402
from app.comments.service import comment_dict  # noqa: E402
from app.issues.schemas import IssueOutput  # noqa: E402
from app.issues.service import issue_dict  # noqa: E402
from app.models.base import isoformat  # noqa: E402


def hand_issue(issue, project_key):
    return {
        "id": issue.id, "key": f"{project_key}-{issue.number}", "number": issue.number,
        "project": project_key, "title": issue.title, "description": issue.description,
        "status": issue.status, "priority": issue.priority, "assignee_id": issue.assignee_id,
        "reporter_id": issue.reporter_id, "labels": issue.labels,
        "created_at": isoformat(issue.created_at), "updated_at": isoformat(issue.updated_at),
        "resolved_at": isoformat(issue.resolved_at), "version": issue.version,
    }


def hand_comment(comment):
    return {
        "id": comment.id, "issue_id": comment.issue_id, "author_id": comment.author_id,
        "body": comment.body, "created_at": isoformat(comment.created_at),
        "updated_at": isoformat(comment.updated_at), "version": comment.version,
    }


def rows(count):
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    issues = [SimpleNamespace(id=n, number=n, title=f"Issue {n} needs a look", description="Steps to reproduce.",
                              status="open", priority="medium", assignee_id=None, reporter_id=1,
                              labels=["bench"], created_at=now, updated_at=now, resolved_at=None, version=1)
              for n in range(1, count + 1)]
    comments = [SimpleNamespace(id=n, issue_id=1, author_id=1, body="Tried again, same result.", created_at=now,
                                updated_at=now, version=1) for n in range(1, count + 1)]
    return issues, comments


def timed(render, items, rounds):
    """Microseconds per row over ``rounds`` pages of ``items``."""
    start = time.perf_counter()
    for _ in range(rounds):
        for item in items:
            render(item)
    return (time.perf_counter() - start) / (rounds * len(items)) * 1e6


def best_of(renders, items, rounds, turns=7):
    """The best time per row of each render, measured in alternating turns (the machine's
    load moves under a benchmark: each turn gives each one the same conditions)."""
    best = [float("inf")] * len(renders)
    for _ in range(turns):
        for position, (render, share) in enumerate(renders):
            best[position] = min(best[position], timed(render, items, max(1, rounds // share)))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    issues, comments = rows(args.rows)
    assert issue_dict(issues[0], "WEB") == hand_issue(issues[0], "WEB")
    assert comment_dict(comments[0]) == hand_comment(comments[0])
    issue_schema, comment_schema = IssueOutput(), CommentOutput()
    cases = {
        "issue": (lambda i: hand_issue(i, "WEB"), lambda i: issue_dict(i, "WEB"),
                  lambda i: issue_schema.dump(hand_issue(i, "WEB")), issues),
        "comment": (hand_comment, comment_dict, lambda c: comment_schema.dump(hand_comment(c)), comments),
    }
    for name, (hand, generated, dumped, items) in cases.items():
        base, gen, dump = best_of([(hand, 1), (generated, 1), (dumped, 10)], items, args.rounds)
        print(f"{name:8} hand-written {base:6.2f} µs  generated {gen:6.2f} µs ({gen / base:.2f}x)  "
              f"hand-written + dump {dump:6.2f} µs ({dump / base:.2f}x)")


if __name__ == "__main__":
    main()
