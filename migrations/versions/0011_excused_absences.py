"""excused absences: the reason, note, who and when on a record, and the excuse in the audit trail

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:50:00

An excuse is an annotation beside a record's status: ``absence_reason`` (NULL = not excused),
with its optional note, who gave it and when. Each audit row carries the excuse before and
after the change, so the trail shows excuses given, withdrawn, and cleared by a change to
PRESENT. Existing rows are not excused (every new column is NULL).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

REASONS = ('ILLNESS', 'MEDICAL', 'FAMILY', 'SCHOOL_ACTIVITY', 'RELIGIOUS', 'OTHER')


def _reason(name: str) -> sa.Column:
    return sa.Column(
        name,
        sa.Enum(*REASONS, name=name, native_enum=False, create_constraint=True, length=20),
        nullable=True,
    )


def upgrade():
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.add_column(_reason('absence_reason'))
        batch_op.add_column(sa.Column('excuse_note', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('excused_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('excused_by_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_attendance_excused_by_id_users'), 'users', ['excused_by_id'], ['id'],
            ondelete='SET NULL',
        )
    with op.batch_alter_table('attendance_changes', schema=None) as batch_op:
        batch_op.add_column(_reason('old_absence_reason'))
        batch_op.add_column(_reason('new_absence_reason'))


def downgrade():
    with op.batch_alter_table('attendance_changes', schema=None) as batch_op:
        batch_op.drop_column('new_absence_reason')
        batch_op.drop_column('old_absence_reason')
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_attendance_excused_by_id_users'), type_='foreignkey')
        batch_op.drop_column('excused_by_id')
        batch_op.drop_column('excused_at')
        batch_op.drop_column('excuse_note')
        batch_op.drop_column('absence_reason')
