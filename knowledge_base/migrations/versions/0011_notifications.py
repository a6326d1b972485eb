"""dossier status notifications

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

CHANNEL = sa.Enum('zalo', 'sms', 'web', name='channel', native_enum=False, length=16)
OUTBOX_STATUS = sa.Enum(
    'pending', 'sending', 'sent', 'failed', 'dead', 'cancelled',
    name='outboxstatus', native_enum=False, length=16,
)


def upgrade() -> None:
    op.create_table('notification_offers',
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    op.create_table('notification_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('channel', CHANNEL, nullable=False),
    sa.Column('address', sa.String(length=120), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dossier_id', 'channel', 'address', name='uq_subscription_target')
    )
    with op.batch_alter_table('notification_subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_notification_subscriptions_address', ['channel', 'address'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_subscriptions_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_subscriptions_dossier_id'), ['dossier_id'], unique=False)

    op.create_table('notification_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('dossier_id', sa.Integer(), nullable=True),
    sa.Column('channel', CHANNEL, nullable=False),
    sa.Column('address', sa.String(length=120), nullable=False),
    sa.Column('address_hint', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', OUTBOX_STATUS, nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['dossiers.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscription_id'], ['notification_subscriptions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_notification_outbox_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('web_inbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shown_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('web_inbox_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_inbox_messages_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    op.drop_table('web_inbox_messages')
    op.drop_table('notification_outbox')
    op.drop_table('notification_subscriptions')
    op.drop_table('notification_offers')
