"""Handles: the ``@name`` by which users mention each other.

A handle is 2-32 of ``a-z0-9_-``, unique regardless of case (stored lower-cased, as
e-mails are). A user who gives none gets one from their e-mail's local part, made
unique with a number (``ann``, ``ann2``, ...): the column default computes it in the
INSERT's own transaction, so every way of making a user (REST, CLI, seed data, tests)
gets one. Migration 0006 filled them in for the users that existed before.
"""
import re

from sqlalchemy import text

HANDLE = re.compile(r"[a-z0-9_-]{2,32}")
MIN, MAX = 2, 32
FALLBACK = "user"


def handle_base(email):
    """The handle an e-mail suggests before it is made unique: ``Ann.Lee+x@...`` -> ``ann-lee-x``."""
    local = email.partition("@")[0].lower()
    base = re.sub(r"[^a-z0-9_-]+", "-", local).strip("-")[:MAX]
    return base if len(base) >= MIN else FALLBACK


def first_free(base, taken):
    """``base``, or ``base`` with the smallest number from 2 that is not in ``taken``."""
    if base not in taken:
        return base
    number = 2
    while True:
        suffix = str(number)
        candidate = base[:MAX - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def taken_like(connection, base):
    """The handles in use that start like ``base`` (the only ones ``first_free`` can meet)."""
    rows = connection.execute(text("SELECT handle FROM users WHERE handle LIKE :prefix"),
                              {"prefix": base[:MAX - 6] + "%"})
    return {row[0] for row in rows}


def handle_default(context):
    """Column default of ``users.handle``: a free handle from the row's e-mail."""
    base = handle_base(context.get_current_parameters()["email"])
    return first_free(base, taken_like(context.connection, base))
