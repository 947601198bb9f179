"""python-socketio: publish a message to the queue without delivering it here first.

``PubSubManager.emit`` delivers to this process's sockets at once and then publishes
with this process's host id, which its own listener skips. Beacon's managers deliver
from the queue only, the emitting process included, so every process delivers one
project's events in the queue's order: the message is published, with a host id that is
no process's, through ``_publish``, the backend hook that python-socketio's documentation
asks custom queues to implement, but no public way to call it.
"""
CHECKED_RELEASE = "5.18.1"
ANY_HOST = "any"  # no process's host id: every listener delivers it, ours included


def publish_only(manager, event, data, namespace, room, skip_sid):
    """Queue an emit for every process's listener, this one's included."""
    data = list(data) if isinstance(data, tuple) else [data]
    manager._publish({"method": "emit", "event": event, "data": data, "binary": False, "namespace": namespace,
                      "room": room, "skip_sid": skip_sid, "callback": None, "host_id": ANY_HOST})
