"""audit rows keep the late time before and after, so an Undo gives back the minutes late

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:40:00

``attendance_changes.old_late_at`` / ``new_late_at``: the record's ``late_at`` before and
after the change (NULL when not LATE). Existing rows keep NULL in both: an Undo of such a row
(only possible for a few minutes after it was written) falls back to the time of the undo.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attendance_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('old_late_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('new_late_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('attendance_changes', schema=None) as batch_op:
        batch_op.drop_column('new_late_at')
        batch_op.drop_column('old_late_at')
