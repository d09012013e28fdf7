"""audit channel values: what the edges write

A bulk action now records the edge it came through (WEB, API, CLI) instead of BULK, and
SOCKET, which nothing ever wrote, goes. BULK stays allowed for the rows written before
this revision: their edge was not recorded, and an audit trail is not rewritten.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:30:00

"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

NAME = 'channel'  # ck_attendance_changes_channel under the models' naming convention


def _check(values: tuple[str, ...]) -> None:
    with op.batch_alter_table('attendance_changes', schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_='check')
        batch_op.create_check_constraint(
            NAME, "channel IN (" + ", ".join(f"'{v}'" for v in values) + ")"
        )


def upgrade():
    _check(('WEB', 'API', 'CLI', 'BULK'))


def downgrade():
    _check(('WEB', 'API', 'BULK', 'SOCKET', 'CLI'))
