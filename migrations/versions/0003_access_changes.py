"""access changes: sign-outs, revocations, (de)activations and admin rights, kept through restores

Revision ID: 0003_access_changes
Revises: 0002_comment_redaction
Create Date: 2026-12-05 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_access_changes'
down_revision = '0002_comment_redaction'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('access_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('change', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_changes'))
    )
    with op.batch_alter_table('access_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_changes_at'), ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('access_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_changes_at'))

    op.drop_table('access_changes')
