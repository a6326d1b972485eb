"""dialogue states: where each conversation stands; the kind of each bot reply

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 18:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dialogue_states',
        sa.Column('conversation_id', sa.String(length=64), nullable=False),
        sa.Column('turn', sa.Integer(), nullable=False),
        sa.Column('state', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('conversation_id'),
    )
    with op.batch_alter_table('chat_turns') as batch:
        batch.add_column(sa.Column('reply_kind', sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chat_turns') as batch:
        batch.drop_column('reply_kind')
    op.drop_table('dialogue_states')
