"""Extensions, created unbound; create_app() binds them."""
from flask_migrate import Migrate
from flask_sock import Sock
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Objects keep what was just written after a commit: answering with them needs no re-read.
db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention), session_options={"expire_on_commit": False})
migrate = Migrate()
socketio = SocketIO()
sock = Sock()  # raw WebSockets: GraphQL's graphql-transport-ws at /api/graphql/ws


def per_app(app, name, make):
    """``app``'s one ``name`` object, made by ``make()`` the first time it is asked for
    (one per app: apps of different settings, as in tests, never share one)."""
    value = app.extensions.get(name)
    if value is None:
        value = app.extensions.setdefault(name, make())
    return value
