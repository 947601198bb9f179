"""Job functions the worker tests enqueue (importable by worker processes)."""
from app.worker import in_app_context


@in_app_context
def create_named_user(name):
    from app.users.service import create_user

    return create_user(f"{name}@jobs.test", name, "password-123").id


@in_app_context
def create_issue_as(user_id, project_key, title):
    """Create an issue from a worker process (its event must reach Socket.IO clients)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.issues.service import create_issue
    from app.models import Project, User

    project = db.session.scalar(select(Project).where(Project.key == project_key))
    return create_issue(project, db.session.get(User, user_id), {"title": title}).id
