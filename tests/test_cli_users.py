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


def demo_users():
    return db.session.scalar(select(func.count(User.id)).where(User.email.like("%@demo.beacon")))


def test_seed_demo_fills_a_new_installation_once(runner):
    """`make run` creates the first admin, then `seed-demo` (the README's order); a second
    seed-demo finds data and refuses."""
    assert runner.invoke(args=["users", "ensure-admin"]).exit_code == 0
    assert runner.invoke(args=["seed-demo", "--issues", "3"]).exit_code == 0
    assert demo_users() == 4
    again = runner.invoke(args=["seed-demo", "--issues", "3"])
    assert again.exit_code == 1 and "not empty" in again.output
    assert db.session.scalar(select(func.count(Issue.id))) == 6


def test_seed_demo_refuses_a_database_with_data(runner, factory):
    """Demo users have a known password: they must never land in a database in use."""
    owner = factory.admin()
    factory.user()
    refused = runner.invoke(args=["seed-demo", "--issues", "3"])
    assert refused.exit_code == 1 and refused.output.startswith("error: the database is not empty")
    assert refused.output.count("\n") == 1
    factory.project(owner, "OPS")
    assert runner.invoke(args=["seed-demo", "--issues", "3"]).exit_code == 1
    assert demo_users() == 0 and db.session.scalar(select(func.count(Project.id))) == 1
