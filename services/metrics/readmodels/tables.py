"""The metrics read models' tables (created by the Alembic migrations beside them).

``mx_events`` is bitemporal: a row per version of a participant event, known from
``recorded_at`` until ``superseded_at`` (a correction or retraction), so any past state of
knowledge can be read back. ``mx_cube`` holds the current sum of every participant's report
contributions (see :mod:`services.metrics.facts`); ``mx_participant_cube`` each participant's
own share of it, so a change replaces exactly that share. ``mx_snapshots`` and
``mx_snapshot_cube`` hold the cube as known at past hour starts (a full copy at each month
start, the change over the day at day starts, the change over the hour at other hours), so an
"as known at" report recomputes only the participants changed since the last of them
(:mod:`services.metrics.readmodels.snapshots`).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
KEY_LENGTH = 64
FLAGS_LENGTH = 1000


def _cube_key_and_count() -> list[sa.Column[object]]:
    """A cube row's key (after its contract, and its moment for a snapshot) and count."""
    return [
        sa.Column("measure", sa.String(16), primary_key=True),
        sa.Column("provider_id", sa.String(KEY_LENGTH), primary_key=True),
        sa.Column("site", sa.String(200), primary_key=True),
        sa.Column("cohort", sa.String(8), primary_key=True),
        sa.Column("flags", sa.String(FLAGS_LENGTH), primary_key=True),
        sa.Column("k1", sa.String(200), primary_key=True),
        sa.Column("k2", sa.String(KEY_LENGTH), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
    ]


rulebooks = sa.Table(
    "mx_rulebooks",
    metadata,
    sa.Column("contract_id", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

participants = sa.Table(
    "mx_participants",
    metadata,
    sa.Column("stream_id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(KEY_LENGTH), nullable=False, index=True),
    sa.Column("provider_id", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

events = sa.Table(
    "mx_events",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("stream_id", sa.String(36), nullable=False),
    sa.Column("contract_id", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("type", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_mx_events_stream", "stream_id", "event_id"),
    sa.Index("ix_mx_events_contract_recorded", "contract_id", "recorded_at"),
    sa.Index("ix_mx_events_contract_superseded", "contract_id", "superseded_at"),
)

participant_cube = sa.Table(
    "mx_participant_cube",
    metadata,
    sa.Column("stream_id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(KEY_LENGTH), nullable=False, index=True),
    sa.Column("contributions", sa.Text, nullable=False),
)

cube = sa.Table(
    "mx_cube",
    metadata,
    sa.Column("contract_id", sa.String(KEY_LENGTH), primary_key=True),
    *_cube_key_and_count(),
)

snapshots = sa.Table(
    "mx_snapshots",
    metadata,
    sa.Column("contract_id", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("known_at", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("rulebook_version", sa.Integer, nullable=False),  # the plan its shares follow
    sa.Column("kind", sa.String(8), nullable=False),  # full, day or hour (snapshots.py)
    sa.Index("ix_mx_snapshots_known_at", "known_at"),
)

snapshot_cube = sa.Table(
    "mx_snapshot_cube",
    metadata,
    sa.Column("contract_id", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("known_at", sa.DateTime(timezone=True), primary_key=True),
    *_cube_key_and_count(),
)

rejections = sa.Table(
    "mx_rejections",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("contract_id", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("stream_id", sa.String(36), nullable=False),  # the participant's history
    sa.Column("provider_id", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("outcome_id", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("reason_code", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("decided_on", sa.Date, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_mx_rejections_contract_recorded", "contract_id", "recorded_at"),
)

books = sa.Table(
    "mx_books",
    metadata,
    sa.Column("stream_id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(KEY_LENGTH), nullable=False),
)

money = sa.Table(
    "mx_money",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("contract_id", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("provider_id", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("outcome_minor", sa.BigInteger, nullable=False),
    sa.Column("paid_minor", sa.BigInteger, nullable=False),
    sa.Column("capped_minor", sa.BigInteger, nullable=False),
    sa.Column("booked_period", sa.String(7), nullable=False),  # the ledger month it is in
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_mx_money_contract_recorded", "contract_id", "recorded_at"),
)

money_totals = sa.Table(  # mx_money summed per provider and ledger month, kept as it arrives
    "mx_money_totals",
    metadata,
    sa.Column("contract_id", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("provider_id", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("booked_period", sa.String(7), primary_key=True),
    sa.Column("outcome_minor", sa.BigInteger, nullable=False),
    sa.Column("paid_minor", sa.BigInteger, nullable=False),
    sa.Column("capped_minor", sa.BigInteger, nullable=False),
)

claim_outcomes = sa.Table(  # each booked claim's outcome, so its later payments find it
    "mx_claim_outcomes",
    metadata,
    sa.Column("claim_id", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("outcome_id", sa.String(KEY_LENGTH), nullable=False),
)

outcome_money = sa.Table(  # mx_money_totals per outcome as well (the INDIGO export's payments)
    "mx_outcome_money",
    metadata,
    sa.Column("contract_id", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("outcome_id", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("provider_id", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("booked_period", sa.String(7), primary_key=True),
    sa.Column("outcome_minor", sa.BigInteger, nullable=False),
    sa.Column("paid_minor", sa.BigInteger, nullable=False),
    sa.Column("capped_minor", sa.BigInteger, nullable=False),
    sa.Column("claims", sa.BigInteger, nullable=False),  # booked less reversed
)
