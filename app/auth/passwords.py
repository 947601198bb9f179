"""Password hashes: scrypt (werkzeug's default), computed off the green loop under eventlet.

One hash costs ~90 ms of CPU on purpose. Under eventlet every request and socket of a
process shares one OS thread, so a hash computed inline stalls all of them for that long,
and a burst of sign-ins stalls the process for seconds. When eventlet has monkey patched
the process, hashes run in its pool of native threads (``tpool.execute``): hashlib's
scrypt releases the GIL, so the loop goes on serving meanwhile. Under threading each
request has a thread of its own, and hashes run inline.
"""
from werkzeug.security import check_password_hash, generate_password_hash

from ..config import eventlet_patched

# Checked against when the e-mail is unknown, so timing does not tell (made once, at import).
DUMMY_HASH = generate_password_hash("not a password")


def hash_password(password):
    """The scrypt hash of ``password``, to store."""
    return _off_the_loop(generate_password_hash, password)


def check_password(password_hash, password):
    """True when ``password`` matches ``password_hash``."""
    return _off_the_loop(check_password_hash, password_hash, password)


def _off_the_loop(function, *args):
    if not eventlet_patched():
        return function(*args)
    # Imported only in a process eventlet runs: elsewhere importing it is a deprecation warning.
    from eventlet import tpool

    return tpool.execute(function, *args)
