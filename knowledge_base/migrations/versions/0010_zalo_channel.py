"""zalo channel

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 20:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'zalo_tokens',
        sa.Column('app_id', sa.String(length=32), nullable=False),
        sa.Column('access_token', sa.Text(), nullable=False),
        sa.Column('refresh_token', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seed_hash', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('app_id'),
    )
    op.create_table(
        'zalo_followers',
        sa.Column('user_key', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('session_no', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=64), nullable=True),
        sa.Column('choices', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('user_key'),
    )
    op.create_table(
        'zalo_events',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_zalo_events_received_at', 'zalo_events', ['received_at'])


def downgrade() -> None:
    op.drop_index('ix_zalo_events_received_at', table_name='zalo_events')
    op.drop_table('zalo_events')
    op.drop_table('zalo_followers')
    op.drop_table('zalo_tokens')
