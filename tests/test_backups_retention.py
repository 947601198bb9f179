"""Retention (grandfather-father-son) over random histories, with hypothesis."""
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.backups.retention import PERIODS, RULES, parse_rules, plan

START = datetime(2025, 1, 1)
STATUSES = st.sampled_from(["verified"] * 6 + ["corrupt", "failed", "queued", "running"])


@st.composite
def histories(draw):
    offsets = draw(st.lists(st.integers(0, 400 * 24 * 60), min_size=0, max_size=60, unique=True))
    backups = []
    for n, minutes in enumerate(offsets):
        at = START + timedelta(minutes=minutes)
        backups.append((f"{at:%Y%m%dT%H%M%SZ}-{n:04x}", at, draw(STATUSES)))
    return backups


rules_strategy = st.fixed_dictionaries({name: st.integers(0, 6) for name in RULES})


def _newest_first(backups):
    return sorted(backups, key=lambda b: (b[1], b[0]), reverse=True)


@settings(max_examples=300, deadline=None)
@given(histories(), rules_strategy)
def test_plan_properties(backups, rules):
    result = plan(backups, rules)
    keep, delete = set(result["keep"]), set(result["delete"])
    done = {b[0] for b in backups if b[2] not in ("queued", "running")}
    assert keep | delete == done and not keep & delete  # every finished backup decided once
    verified = [b for b in _newest_first(backups) if b[2] == "verified"]
    if not verified:
        assert not delete
        return
    assert verified[0][0] in keep  # never the newest verified backup
    for rule, count in rules.items():  # the newest of each of the last `count` periods
        periods = []
        for backup in verified:
            period = PERIODS[rule](backup[1])
            if period not in periods:
                periods.append(period)
                if len(periods) <= count:
                    assert backup[0] in keep, (rule, backup)
    kept_verified = [b for b in verified if b[0] in keep]
    assert len(kept_verified) <= 1 + sum(rules.values())
    newest = (verified[0][1], verified[0][0])
    for backup in backups:
        if backup[0] in done and backup[2] != "verified":
            assert (backup[0] in keep) == ((backup[1], backup[0]) > newest)
    assert result["keep"] == [b[0] for b in _newest_first(backups) if b[0] in keep]  # newest first


@settings(max_examples=200, deadline=None)
@given(histories(), rules_strategy)
def test_plan_is_stable_once_carried_out(backups, rules):
    kept = set(plan(backups, rules)["keep"])
    remaining = [b for b in backups if b[0] in kept or b[2] in ("queued", "running")]
    assert plan(remaining, rules)["delete"] == []


def test_hourly_daily_weekly_monthly_on_a_known_history():
    backups = [(f"{START + timedelta(hours=h):%Y%m%dT%H%M%SZ}-0000", START + timedelta(hours=h), "verified")
               for h in range(0, 24 * 60, 6)]  # every 6 hours for 60 days
    result = plan(backups, {"hourly": 2, "daily": 3, "weekly": 2, "monthly": 2})
    kept = sorted(result["keep"], reverse=True)
    # hourly 2: the last two 6-hourly backups; daily 3: the last of each of the last 3 days
    # (one of them already kept); weekly and monthly add the last of earlier weeks/months.
    assert kept[:2] == [backups[-1][0], backups[-2][0]]
    assert len(kept) == len(set(kept)) and 4 <= len(kept) <= 9
    assert backups[0][0] not in kept


@pytest.mark.parametrize("text, expected", [
    ("hourly=24,daily=7,weekly=4,monthly=12", {"hourly": 24, "daily": 7, "weekly": 4, "monthly": 12}),
    (" daily=3 ", {"hourly": 0, "daily": 3, "weekly": 0, "monthly": 0}),
    ("", {"hourly": 0, "daily": 0, "weekly": 0, "monthly": 0}),
])
def test_parse_rules(text, expected):
    assert parse_rules(text) == expected


@pytest.mark.parametrize("text", ["yearly=2", "daily", "daily=-1", "daily=x"])
def test_parse_rules_refuses_nonsense(text):
    with pytest.raises(ValueError, match="BACKUP_RETENTION"):
        parse_rules(text)
