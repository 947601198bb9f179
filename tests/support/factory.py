"""Test helpers that make users, tokens, projects, members and issues."""
import itertools

from werkzeug.security import generate_password_hash

PASSWORD = "correct horse battery"
_PASSWORD_HASH = generate_password_hash(PASSWORD)  # scrypt is slow: hash once per run
_counter = itertools.count(1)


class Factory:
    def __init__(self, app, client):
        self.app = app
        self.client = client

    def user(self, name=None, *, is_admin=False, active=True, email=None):
        from app.extensions import db
        from app.models import User

        n = next(_counter)
        user = User(email=email or f"user{n}@example.test", name=name or f"User {n}",
                    password_hash=_PASSWORD_HASH, is_admin=is_admin, active=active)
        db.session.add(user)
        db.session.commit()
        return user

    def admin(self, name=None):
        return self.user(name, is_admin=True)

    def token(self, user):
        from app.auth.tokens import issue_token
        from app.extensions import db

        plain, _row = issue_token(user)
        db.session.commit()
        return plain

    def headers(self, user):
        return {"Authorization": f"Bearer {self.token(user)}"}

    def project(self, owner, key="WEB", name=None):
        from app.projects.service import create_project

        return create_project(owner, key, name or f"Project {key}")

    def member(self, project, user, role="member"):
        from app.extensions import db
        from app.models import Membership

        db.session.add(Membership(project_id=project.id, user_id=user.id, role=role))
        db.session.commit()
        return user

    def issue(self, project, user, **data):
        from app.issues.service import create_issue

        return create_issue(project, user, {"title": "An issue", **data})

    def comment(self, issue, user, body="A comment"):
        from app.comments.service import create_comment

        return create_comment(issue, user, body)

    def role_headers(self, project, role):
        """Headers of a fresh user with ``role`` in ``project`` (none, viewer, member, maintainer, admin)."""
        if role == "admin":
            return self.headers(self.admin())
        user = self.user()
        if role != "none":
            self.member(project, user, role)
        return self.headers(user)
