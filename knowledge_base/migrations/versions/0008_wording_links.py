"""wording links

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wording_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('procedure_code', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('wording_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wording_links_procedure_code'), ['procedure_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wording_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wording_links_procedure_code'))

    op.drop_table('wording_links')
