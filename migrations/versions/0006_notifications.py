"""notifications: users' handles and e-mail choice, issue watchers, the inbox

Every user gets a handle: from the e-mail's local part, made unique with a number, in
the order the users were made (``app/users/handles.py``, the rule new users follow).

Revision ID: 0006_notifications
Revises: 0004_attachments
"""
import sqlalchemy as sa
from alembic import op

from app.users.handles import first_free, handle_base

revision = "0006_notifications"
down_revision = "0005_webhooks"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String),
                 sa.column("handle", sa.String))


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("handle", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("email_notifications", sa.String(8), nullable=False,
                                      server_default="digest"))
    connection = op.get_bind()
    taken = set()
    for user_id, email in connection.execute(sa.select(users.c.id, users.c.email).order_by(users.c.id)).all():
        handle = first_free(handle_base(email), taken)
        taken.add(handle)
        connection.execute(users.update().where(users.c.id == user_id).values(handle=handle))
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("handle", existing_type=sa.String(32), nullable=False)
        batch_op.create_unique_constraint("uq_users_handle", ["handle"])

    op.create_table(
        "issue_watchers",
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("issues.id", ondelete="CASCADE",
                                                          name="fk_issue_watchers_issue_id_issues"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE",
                                                         name="fk_issue_watchers_user_id_users"), nullable=False),
        sa.Column("watching", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "user_id", name="pk_issue_watchers"),
    )
    op.create_index("ix_issue_watchers_user_id", "issue_watchers", ["user_id"])
    op.create_table(
        "notifications",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE",
                                                         name="fk_notifications_user_id_users"), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("issues.id", ondelete="CASCADE",
                                                          name="fk_notifications_issue_id_issues"), nullable=False),
        sa.Column("issue_key", sa.String(32), nullable=False),
        sa.Column("project", sa.String(10), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("mailed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index("ix_notifications_user_id", "notifications", ["user_id", "id"])
    op.create_index("ix_notifications_unread", "notifications", ["user_id", "id"],
                    postgresql_where=sa.text("read_at IS NULL"), sqlite_where=sa.text("read_at IS NULL"))
    op.create_index("ix_notifications_issue_id", "notifications", ["issue_id"])


def downgrade():
    op.drop_table("notifications")
    op.drop_table("issue_watchers")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_handle", type_="unique")
        batch_op.drop_column("email_notifications")
        batch_op.drop_column("handle")
