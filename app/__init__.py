"""Beacon: a real-time issue tracker. ``create_app()`` builds the Flask application."""
import gc
import os

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from . import admin, after_commit, analytics, attachments, auth, backups, batches, comments, events, fastjson, instance
from . import graphql_api, issues, notifications, ops, projects, search, web, webhooks
from .attachments import tus
from .attachments.sweeps import register_schedule as schedule_upload_sweep
from .auth.permissions import forget_seen
from .backups.cli import backup_cli
from .backups.jobs import register_schedule as schedule_backups
from .batches.jobs import register_schedule as schedule_reaper
from .config import Config
from .database import configure_engine
from .errors import BeaconApi, register_error_handlers
from .extensions import db, migrate, sock, socketio
from .graphql_api import live
from .notifications import fanout, unsubscribe
from .notifications.emails import register_schedule as schedule_digests
from .ids import IdConverter
from .json_provider import JSONProvider
from .ops import init_app as ops_init_app
from .ops.requests import EngineIoRequests
from .ops.security import socket_origin_check
from .realtime import broadcast
from .realtime.manager import client_manager
from .realtime.namespace import register as register_realtime
from .users.cli import seed_demo_command, users_cli
from .webhooks.fanout import deliver_events
from .webhooks.jobs import register_schedule as schedule_webhooks
from .worker import worker_command

SPEC = {"components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}]}


def freeze_startup_heap():
    """Put the objects made while starting (modules, the app, schemas, table metadata) out
    of the cyclic collector's reach: they live as long as the process. Full collections
    then walk only what came after; one that fell due in the middle of a 10,000-operation
    batch POST took it from 0.19 to 0.29 s. Called by each entry point once it is set up."""
    gc.collect()
    gc.freeze()


class NoCookieSession(SecureCookieSessionInterface):
    """Beacon keeps nothing in cookies (API and pages authenticate by bearer token), so a
    request opens no session: reading a signed cookie costs every request for nothing."""

    def open_session(self, app, request):
        return None  # Flask then uses its read-only null session


def create_app(overrides=None):
    """Create the app from the environment, with ``overrides`` on top (tests)."""
    app = Flask(__name__, instance_path=os.environ.get("BEACON_INSTANCE_PATH") or None,
                instance_relative_config=True)
    instance.make_folder_private(app.instance_path)
    app.config.from_object(Config(app.instance_path))
    app.config.update(overrides or {})
    instance.make_database_private(app.config["SQLALCHEMY_DATABASE_URI"])
    _init_async_mode(app)
    app.url_map.converters["int"] = IdConverter
    app.json = JSONProvider(app)
    app.session_interface = NoCookieSession()

    db.init_app(app)
    sock.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
                     render_as_batch=True, compare_type=True)
    ops_init_app(app)
    api = BeaconApi(app, spec_kwargs=SPEC)
    register_error_handlers(app)
    _configure_database(app)

    _register_after_commit(app)
    _register_blueprints(app, api)
    _register_cli(app)
    _register_schedules(app)
    _init_socketio(app)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:  # outermost: Socket.IO's origin check sees the client's scheme and host too
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    return app


def _init_async_mode(app):
    """Under eventlet, make psycopg2 cooperative so a slow query does not stall the loop."""
    if app.config["SOCKETIO_ASYNC_MODE"] == "eventlet" and "+psycopg2" in app.config["SQLALCHEMY_DATABASE_URI"]:
        from . import green_postgres  # imports eventlet, which elsewhere only warns: only under eventlet

        green_postgres.install()


def _configure_database(app):
    with app.app_context():
        configure_engine(db.engine)


def _register_after_commit(app):
    """What follows every commit (``after_commit``): committed events go to the sockets,
    then become notifications (``notifications.fanout``; ``NOTIFICATIONS=off`` skips them,
    for the benchmark's baseline), then deliveries to the webhooks that want them
    (``webhooks.fanout``); what a transaction remembered about roles is forgotten when it ends."""
    consumers = [broadcast.events] + ([fanout.notify] if app.config["NOTIFICATIONS"] else []) + [deliver_events]
    after_commit.register(app, consumers=consumers, resetters=[forget_seen])


def _register_blueprints(app, api):
    for package in (auth, projects, issues, comments, attachments, tus, events, search, analytics, batches, backups,
                    admin, notifications, webhooks):
        api.register_blueprint(package.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(graphql_api.bp)
    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(web.bp)


def _register_cli(app):
    for command in (users_cli, seed_demo_command, worker_command, backup_cli):
        app.cli.add_command(command)


def _register_schedules(app):
    """The periodic jobs the scheduler enqueues (in `flask worker` or the embedded worker)."""
    schedule_backups(app)
    schedule_reaper(app)
    schedule_upload_sweep(app)
    schedule_digests(app)
    schedule_webhooks(app)


def _init_socketio(app):
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"],
        client_manager=client_manager(app, listeners=[live.deliver],  # GraphQL subscriptions too
                                      news_listeners=[live.deliver_batch_news]),
        cors_allowed_origins=socket_origin_check(app),
        json=fastjson,
        ping_interval=app.config["REALTIME_PING_INTERVAL"],
        ping_timeout=app.config["REALTIME_PING_TIMEOUT"],
    )
    # Engine.IO answers /socket.io/ before Flask's hooks run: the same id, log line and headers.
    app.wsgi_app = EngineIoRequests(app.wsgi_app)
    register_realtime(app)
