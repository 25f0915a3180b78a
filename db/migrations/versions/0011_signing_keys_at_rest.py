"""Signing keys encrypted at rest.

A sealed column beside the plaintext one, exactly one of them set. Nothing is
encrypted here (the encryption key is not the migration's to know): existing
plaintext keys stay as they are until `casegraph encrypt-keys` seals them with
OAUTH_KEY_ENCRYPTION_KEY, and production refuses to start while an active one
is plaintext.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("signing_keys", sa.Column("sealed_private_key", sa.Text(), nullable=True))
    op.alter_column("signing_keys", "private_pem", existing_type=sa.Text(), nullable=True)
    op.create_check_constraint(
        op.f("ck_signing_keys_one_private_key"),
        "signing_keys",
        "num_nonnulls(private_pem, sealed_private_key) = 1",
    )


def downgrade() -> None:
    # A sealed key cannot go back to a plaintext-only table: refuse rather than lose it.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM signing_keys WHERE private_pem IS NULL) THEN "
        "RAISE EXCEPTION 'sealed signing keys exist: retire or unseal them before downgrading'; END IF; END $$"
    )
    op.drop_constraint(op.f("ck_signing_keys_one_private_key"), "signing_keys", type_="check")
    op.alter_column("signing_keys", "private_pem", existing_type=sa.Text(), nullable=False)
    op.drop_column("signing_keys", "sealed_private_key")
