"""site rankers: the trained ranker kept in the database for every replica

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 05:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'site_rankers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model_text', sa.Text(), nullable=False),
        sa.Column('meta_text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('site_rankers')
