"""The months of the state facts: per state fact (chatrooms, requests) and local month, the digest of the state
rows its published days were built from, so a publication builds only the months that changed since.

A database upgraded to this revision has no months yet: its first publication builds every month once,
compares each day with the digests already published (rewriting none that did not change), and records them.

Revision ID: 0003_state_sources
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_state_sources"
down_revision = "0002_day_local"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "state_sources",
        sa.Column("fact", sa.Text, primary_key=True),
        sa.Column("part", sa.Text, primary_key=True),
        sa.Column("digest", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("state_sources")
