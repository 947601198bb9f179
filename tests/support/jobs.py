"""Job functions the worker tests enqueue (importable by worker processes)."""
from app.worker import in_app_context


@in_app_context
def create_named_user(name):
    from app.users.service import create_user

    return create_user(f"{name}@jobs.test", name, "password-123").id
