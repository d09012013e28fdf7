"""self check-in: code secrets, wrong-code counts, the CHECK_IN audit channel

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 13:44:59.397977

The audit trail's ``channel`` is VARCHAR + CHECK (models/base.py enum_column): the CHECK is
replaced to admit CHECK_IN (on SQLite batch mode recreates the table; on PostgreSQL the
constraint is dropped and created again).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

CHANNELS = ('WEB', 'API', 'CLI', 'BULK')  # as revision 0007 left them
CHECK_NAME = 'ck_attendance_changes_channel'


def _replace_channel_check(values: tuple[str, ...]) -> None:
    allowed = ', '.join(f"'{v}'" for v in values)
    with op.batch_alter_table('attendance_changes', schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CHECK_NAME), type_='check')
        batch_op.create_check_constraint(op.f(CHECK_NAME), f'channel IN ({allowed})')


def upgrade():
    op.create_table('check_in_failures',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('student_id', sa.Uuid(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_check_in_failures_session_id_class_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_check_in_failures_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'student_id', name=op.f('pk_check_in_failures'))
    )
    op.create_table('check_in_secrets',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_check_in_secrets_session_id_class_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_check_in_secrets'))
    )
    _replace_channel_check(CHANNELS + ('CHECK_IN',))


def downgrade():
    # The older schema has no CHECK_IN channel: check-ins stay in the trail as API changes
    # whose reason says what they were.
    op.execute(
        "UPDATE attendance_changes SET channel = 'API', reason = COALESCE(reason, 'self check-in')"
        " WHERE channel = 'CHECK_IN'"
    )
    _replace_channel_check(CHANNELS)
    op.drop_table('check_in_secrets')
    op.drop_table('check_in_failures')
