"""Sign-in limits that hold a guesser back without letting anyone lock the real user out.

``RATE_LIMIT_SIGNIN`` is ``"<failures per e-mail>;<attempts per address>"`` (by default
``10/minute;100/minute``); the address is the client's, behind ``TRUSTED_PROXIES`` too.

- Every attempt counts against its address: past the second limit, 429.
- A failure counts against its (e-mail, address) pair: past the first limit, that address
  gets 429 for that e-mail (before its password is checked). So a guesser at one address
  is held to 10 failed attempts a minute at an account, as the contract says, while the
  account's owner, at another address, is not refused.
- A failure also counts against the e-mail from every address. Past the first limit, each
  attempt at that e-mail waits before its password is checked: 0.1 s, doubling with every
  further limit's worth of failures, at most ``SIGNIN_BACKOFF_MAX_SECONDS`` (2 s). The wait
  only slows: however many failures come from elsewhere, the owner signs in with at most
  that delay. (A hard lock per e-mail let anyone lock out anyone by failing 10 times.)

Not stopped: a guesser with many addresses still gets 10 tries a minute from each, one
per wait at best on each connection; stopping that takes something only the owner has
(a second factor), not a limit that would also stop the owner.
"""
import math
import time

from flask import current_app

from ..ops import limits

FIRST_WAIT = 0.1  # seconds, at the per-e-mail limit


def _settings():
    """``(failures per e-mail, attempts per address)`` of ``RATE_LIMIT_SIGNIN``."""
    per_email, _, per_address = current_app.config["RATE_LIMIT_SIGNIN"].partition(";")
    return per_email, per_address


def before_attempt(email, address):
    """Count an attempt; raise 429 when the address, or the address at this e-mail, is over
    its limit; then wait out the e-mail's backoff."""
    per_email, per_address = _settings()
    limits.hit(per_address, "signin-address", address)
    limits.check(per_email, "signin-email", _pair(email, address))
    time.sleep(backoff(email))


def failed(email, address):
    """Count a failed attempt against the (e-mail, address) pair and against the e-mail."""
    per_email, _ = _settings()
    for item in limits.parsed(per_email) if per_email else ():
        limits.tally(item, "signin-backoff", email, add=True)
    limits.hit(per_email, "signin-email", _pair(email, address))  # a success uses up nothing


def backoff(email):
    """Seconds an attempt at ``email`` waits, from its failures from every address."""
    per_email, _ = _settings()
    wait = 0.0
    for item in limits.parsed(per_email) if per_email else ():
        failures = limits.tally(item, "signin-backoff", email)
        if failures >= item.amount:
            wait = max(wait, FIRST_WAIT * math.pow(2, (failures - item.amount) / item.amount))
    return min(wait, current_app.config["SIGNIN_BACKOFF_MAX_SECONDS"])


def _pair(email, address):
    return f"{address}/{email}"  # an address has no "/": the pair reads one way only
