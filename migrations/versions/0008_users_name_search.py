"""users.name_search: the folded names every person search compares

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 10:00:00

"""

import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _fold(text):
    """services.people.fold as of this revision (a migration never imports the app)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace(",", " ").split())


def _key(first, last):
    return f"{_fold(f'{first} {last}')}\n{_fold(f'{last} {first}')}"


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_search", sa.Text(), server_default="", nullable=False))

    # Backfill the people who already exist, in batches.
    users = sa.table(
        "users",
        sa.column("id", sa.Uuid()),
        sa.column("first_name", sa.String()),
        sa.column("last_name", sa.String()),
        sa.column("name_search", sa.Text()),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.first_name, users.c.last_name)).all()
    update = (
        users.update()
        .where(users.c.id == sa.bindparam("user_id"))
        .values(name_search=sa.bindparam("key"))
    )
    for start in range(0, len(rows), 1000):
        conn.execute(
            update,
            [
                {"user_id": uid, "key": _key(first or "", last or "")}
                for uid, first, last in rows[start : start + 1000]
            ],
        )
    # From now on services.people writes it with the names; no default hides a missed write.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("name_search", server_default=None)


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("name_search")
