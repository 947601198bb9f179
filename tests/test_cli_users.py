"""CLI: users create, the first admin, and demo data only on request."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import Issue, Project, User


def test_users_create(runner):
    result = runner.invoke(args=["users", "create", "--email", "Ada@Example.test", "--name", "Ada",
                                 "--password", "long enough", "--admin"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert (user.email, user.is_admin) == ("ada@example.test", True)
    again = runner.invoke(args=["users", "create", "--email", "ada@example.test", "--name", "A", "--password", "long enough"])
    assert again.exit_code != 0 and "exists" in again.output


def test_ensure_admin_prints_credentials_once(runner):
    first = runner.invoke(args=["users", "ensure-admin"])
    assert first.exit_code == 0 and "password:" in first.output
    password = first.output.split("password:")[1].split()[0]
    from app.auth.tokens import authenticate

    assert authenticate("admin@beacon.local", password) is not None
    second = runner.invoke(args=["users", "ensure-admin"])
    assert second.exit_code == 0 and second.output == ""


def test_demo_data_only_through_seed_demo(runner):
    assert db.session.scalar(select(func.count(Issue.id))) == 0
    result = runner.invoke(args=["seed-demo", "--issues", "20"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Project.id))) == 2
    assert db.session.scalar(select(func.count(Issue.id))) == 40
    resolved = db.session.scalar(select(func.count(Issue.id)).where(Issue.resolved_at.is_not(None)))
    assert 0 < resolved < 40
