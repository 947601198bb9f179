"""What a caller's analytics cover: their readable projects (admins: all), a window of days."""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from ..auth.permissions import load_project, readable_project_ids
from ..extensions import db
from ..models.base import utcnow


@dataclass(frozen=True)
class Scope:
    user_id: int
    is_admin: bool
    project_ids: tuple
    days: int
    today: date
    now: datetime

    @property
    def start(self):
        """Midnight UTC of the first day of the window."""
        return datetime.combine(self.today - timedelta(days=self.days - 1), datetime.min.time())

    def cache_key(self, name, **params):
        parts = [name, str(self.user_id), ",".join(map(str, self.project_ids)), str(self.days)]
        parts += [f"{k}={v}" for k, v in sorted(params.items())]
        return "beacon:analytics:" + "|".join(parts)


def scope_for(user, days, project_key=None):
    """The caller's scope; a project they cannot read is a 404."""
    if project_key:
        ids = (load_project(project_key, user).id,)
    else:
        ids = tuple(sorted(db.session.scalars(readable_project_ids(user))))
    now = utcnow()
    return Scope(user.id, user.is_admin, ids, days, now.date(), now)


def in_scope(column, scope):
    return column.in_(scope.project_ids) if scope.project_ids else column.in_(select(-1).where(False))
