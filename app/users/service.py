"""Creating users."""
from ..audit import record_audit
from ..auth.passwords import hash_password
from ..unique import add_unique
from ..extensions import db
from ..models import User
from ..schemas import renderer
from .schemas import UserOutput


user_dict = renderer(UserOutput)  # a user as responses show it


def create_user(email, name, password, is_admin=False, actor_id=None):
    """Create a user; the e-mail is unique regardless of case."""
    email = email.strip().lower()
    user = add_unique(User(email=email, name=name.strip(), password_hash=hash_password(password), is_admin=is_admin),
                      f"A user with the e-mail {email} exists already.")
    record_audit(actor_id, "user.created", "user", user.id, {"email": user.email, "is_admin": is_admin})
    db.session.commit()
    return user
