"""Presence diffs, coalesced: at most one ``presence.diff`` per room per flush (250 ms)."""
import threading


class DiffBuffer:
    """Collects joins, leaves and updates per room until the next flush."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending = {}  # room -> {user_id: (kind, member)}

    def add(self, room, kind, member):
        with self.lock:
            users = self.pending.setdefault(room, {})
            previous = users.get(member["user_id"], (None, None))[0]
            if previous == "joins" and kind == "leaves":
                del users[member["user_id"]]  # came and went within one window: nothing to tell
                return
            if previous == "joins" and kind == "updates":
                kind = "joins"  # still a join, with the newer state
            elif previous == "leaves" and kind == "joins":
                kind = "updates"  # left and came back: others saw no change of membership
            users[member["user_id"]] = (kind, member)

    def drain(self):
        """Return ``{room: {"joins": [...], "leaves": [...], "updates": [...]}}`` and start afresh."""
        with self.lock:
            pending, self.pending = self.pending, {}
        diffs = {}
        for room, users in pending.items():
            diff = {"room": room, "joins": [], "leaves": [], "updates": []}
            for _user_id, (kind, member) in sorted(users.items()):
                diff[kind].append(member)
            diffs[room] = diff
        return diffs
