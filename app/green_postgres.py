"""psycopg2 under eventlet: the wait callback, which tells the hub about libpq's sockets.

eventlet's hub keeps one reader per file descriptor, and learns that a descriptor number
has been recycled only when a socket is opened through eventlet (``notify_opened``): the
listeners still registered on that number are then stale, and are dropped (their green
threads get ``IOClosed`` instead of waiting forever). libpq opens its sockets in C, out of
the hub's sight, and the stock callbacks (psycogreen's, eventlet's own) wait on them as
they are. So when a descriptor was closed under a waiting green thread and libpq's next
connection got its number, that connection met the stale listener: "Second simultaneous
read on fileno N", a 500. bench/reliability.py found 13 such 500s in a 10-minute run, each
at a burst of new database connections (re-joining sockets after a process was killed).
This callback announces each libpq socket before it waits on it.
"""
from eventlet.hubs import notify_opened, trampoline
from psycopg2 import OperationalError, extensions


def install():
    """Make psycopg2 cooperative: every query and connect waits through ``wait``."""
    extensions.set_wait_callback(wait)


def wait(connection, _timeout=-1):
    """Poll ``connection`` until its operation completes, yielding to the hub meanwhile."""
    announced = None
    while True:
        state = connection.poll()
        if state == extensions.POLL_OK:
            return
        fileno = connection.fileno()
        if fileno != announced:  # libpq may open a new socket mid-connect
            notify_opened(fileno)
            announced = fileno
        if state == extensions.POLL_READ:
            trampoline(fileno, read=True)
        elif state == extensions.POLL_WRITE:
            trampoline(fileno, write=True)
        else:
            raise OperationalError(f"Bad result from poll: {state!r}")
