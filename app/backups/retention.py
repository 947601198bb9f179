"""Grandfather-father-son retention, and pruning the repository by it.

Each rule keeps the newest verified backup of each of its most recent periods:
``hourly=24`` keeps the newest of each of the last 24 hours that have a verified backup,
and likewise ``daily`` (days), ``weekly`` (ISO weeks), ``monthly`` (months). The newest
verified backup is always kept. A backup that is not verified (corrupt, or never
verified) fills no slot: it is kept while it is newer than the newest verified one, and
deleted once a newer verified backup exists. Queued and running backups are not touched.
"""

RULES = ("hourly", "daily", "weekly", "monthly")
PERIODS = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: t.isocalendar()[:2],
    "monthly": lambda t: (t.year, t.month),
}


def parse_rules(text):
    """``"hourly=24,daily=7"`` -> ``{"hourly": 24, "daily": 7, "weekly": 0, "monthly": 0}``."""
    rules = dict.fromkeys(RULES, 0)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in RULES or not value.strip().isdigit():
            raise ValueError(f"BACKUP_RETENTION: {part.strip()!r} is not one of {', '.join(RULES)}=<count>")
        rules[name] = int(value)
    return rules


def plan(backups, rules):
    """Decide what to keep. ``backups``: ``(id, created_at, status)`` tuples.

    Returns ``{"keep": [ids], "delete": [ids]}``, each newest first.
    """
    done = [b for b in backups if b[2] not in ("queued", "running")]
    done.sort(key=lambda b: (b[1], b[0]), reverse=True)
    verified = [b for b in done if b[2] == "verified"]
    keep = set()
    if verified:
        keep.add(verified[0][0])
        for rule, count in rules.items():
            seen = set()
            for backup_id, created_at, _status in verified:
                if len(seen) >= count:
                    break
                period = PERIODS[rule](created_at)
                if period not in seen:
                    seen.add(period)
                    keep.add(backup_id)
        newest = (verified[0][1], verified[0][0])
        keep.update(b[0] for b in done if b[2] != "verified" and (b[1], b[0]) > newest)
    else:
        keep.update(b[0] for b in done)  # nothing verified yet: delete nothing
    return {"keep": [b[0] for b in done if b[0] in keep], "delete": [b[0] for b in done if b[0] not in keep]}
