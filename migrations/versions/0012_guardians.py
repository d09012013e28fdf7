"""guardians: a student's parents or carers, told by email the same day of an absence

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 17:05:00

One row per guardian of a student (unique per student and email); ``notify`` off stops the
daily absence email (an admin, or the guardian through the email's unsubscribe link).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'guardians',
        sa.Column('student_id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=150), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('relationship', sa.String(length=50), nullable=False),
        sa.Column('notify', sa.Boolean(), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['student_id'], ['students.id'], name=op.f('fk_guardians_student_id_students'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_guardians')),
        sa.UniqueConstraint('student_id', 'email', name=op.f('uq_guardians_student_id')),
    )
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guardians_student_id'), ['student_id'], unique=False)


def downgrade():
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guardians_student_id'))
    op.drop_table('guardians')
