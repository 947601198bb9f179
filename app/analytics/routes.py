"""Routes: /api/v1/analytics/*. Each answer is computed by SQL, cached at most 30 s."""
import json

from flask import current_app, request
from marshmallow import Schema, fields, validate

from ..auth.tokens import current_user
from ..projects.schemas import KEY as PROJECT_KEY
from ..schemas import Integer
from ..redis_client import get_redis
from . import batch_figures, bp, issue_figures, people
from .scope import scope_for


class WindowArgs(Schema):
    days = Integer(minimum=1, maximum=365, strict=False, load_default=30)
    project = fields.String(load_default=None, validate=PROJECT_KEY)


class IntervalArgs(WindowArgs):
    interval = fields.String(load_default="day", validate=validate.OneOf(["day", "week"]))


class BreakdownArgs(WindowArgs):
    by = fields.String(required=True, validate=validate.OneOf(["status", "priority", "assignee", "label"]))


class LeaderboardArgs(WindowArgs):
    metric = fields.String(load_default="resolved", validate=validate.OneOf(["resolved", "comments", "created"]))
    limit = Integer(minimum=1, maximum=100, strict=False, load_default=10)


def answer(name, args, compute):
    """Compute ``compute(scope)``, or reuse a cached answer unless the client says no-cache."""
    args = dict(args)
    scope = scope_for(current_user(), args.pop("days"), args.pop("project"))
    ttl = current_app.config["ANALYTICS_CACHE_SECONDS"]
    key = scope.cache_key(name, **args)
    if ttl and "no-cache" not in request.headers.get("Cache-Control", ""):
        cached = get_redis().get(key)
        if cached is not None:
            return json.loads(cached)
    result = compute(scope)
    if ttl:
        get_redis().set(key, json.dumps(result), ex=ttl)
    return result


@bp.route("/overview")
@bp.arguments(WindowArgs, location="query")
@bp.response(200)
def overview(args):
    """Projects, issues by status, comments, active and online users, batches and operations."""
    def compute(scope):
        counts = issue_figures.overview_counts(scope)
        return {**counts, "online_users": people.online(scope)["online_users"], **batch_figures.batch_totals(scope)}
    return answer("overview", args, compute)


@bp.route("/issues/created-vs-resolved")
@bp.arguments(IntervalArgs, location="query")
@bp.response(200)
def created_vs_resolved(args):
    """Issues created and resolved per day or ISO week, with cumulative sums."""
    return answer("created-vs-resolved", args, lambda scope: issue_figures.created_vs_resolved(scope, args["interval"]))


@bp.route("/issues/cycle-time")
@bp.arguments(WindowArgs, location="query")
@bp.response(200)
def cycle_time(args):
    """Hours from creation to resolution of the issues resolved in the window."""
    return answer("cycle-time", args, issue_figures.cycle_time)


@bp.route("/issues/breakdown")
@bp.arguments(BreakdownArgs, location="query")
@bp.response(200)
def breakdown(args):
    """Issues as they are now, counted by status, priority, assignee or label."""
    return answer("breakdown", args, lambda scope: issue_figures.breakdown(scope, args["by"]))


@bp.route("/issues/flow")
@bp.arguments(WindowArgs, location="query")
@bp.response(200)
def flow(args):
    """How many issues stood in each status at the end of each day."""
    return answer("flow", args, issue_figures.flow)


@bp.route("/leaderboard")
@bp.arguments(LeaderboardArgs, location="query")
@bp.response(200)
def leaderboard(args):
    """Users by issues resolved, comments written or issues created in the window."""
    return answer("leaderboard", args, lambda scope: people.leaderboard(scope, args["metric"], args["limit"]))


@bp.route("/bulk-operations")
@bp.arguments(WindowArgs, location="query")
@bp.response(200)
def bulk_operations(args):
    """Batches and their operations: counts, success, duration percentiles, throughput, trend."""
    return answer("bulk-operations", args, batch_figures.bulk_operations)


@bp.route("/realtime")
@bp.arguments(WindowArgs, location="query")
@bp.response(200)
def realtime(args):
    """Users and connections present now, and events of the last 5 minutes."""
    return answer("realtime", args, lambda scope: {**people.online(scope), "events_last_5m": people.recent_events(scope)})
