"""Personal data: sealed per participant, erasable by destroying the participant's key.

An event's attributes that the rule book marks ``personal: true`` are never stored in clear.
They are sealed together with a key of the participant's own (a *data key*, AES-SIV), and that
data key is kept, wrapped by the service's personal-data key (AES-256-GCM), in the
``participant_keys`` table of the claims SQL store, outside the event store. Erasure destroys
the wrapped data key: every sealed value of that participant becomes unreadable for good, while
the events, their feed entries (and so any digest over them), the claims, the ledger and the
metrics stay exactly as they were, since no rule ever reads a personal attribute.

AES-SIV is deterministic: the same values sealed for the same participant and event give the
same text, so a correction that changes nothing personal is still seen as unchanged. The event
id and the participant are bound in as associated data, so a sealed value cannot be moved to
another event or participant.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from shared.identifiers import SEPARATOR
from shared.sqlviews import aware

SEALED_PREFIX = "pd1."
DATA_KEY_BITS = 512  # AES-SIV with two 256-bit keys
WRAP_NONCE_BYTES = 12
MAX_SEALED_CHARS = 64_000

metadata = sa.MetaData()
participant_keys = sa.Table(
    "participant_keys",
    metadata,
    sa.Column("contract_id", sa.String(64), primary_key=True),
    sa.Column("participant_id", sa.String(64), primary_key=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
    sa.Column("wrapping_key_id", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("erased_by", sa.String(200), nullable=True),
)


class PersonalKeyError(ValueError):
    """The personal-data key is not a base64 AES-256 key."""


class ErasedPersonalData(Exception):
    """The participant's personal data was erased; no new personal data is taken for it."""


class UnreadableSealedValue(Exception):
    """A sealed value does not open with the key it should (tampered, or moved)."""


@dataclass(frozen=True)
class Erasure:
    erased_at: dt.datetime
    erased_by: str
    first: bool


def parse_wrapping_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PersonalKeyError("the personal-data key must be base64") from None
    if len(key) != 32:
        raise PersonalKeyError("the personal-data key must be 32 bytes (AES-256), base64")
    return key


def wrapping_key_id(text: str) -> str:
    """The id a wrapping key is known by in the store: the start of its SHA-256."""
    return hashlib.sha256(parse_wrapping_key(text)).hexdigest()[:16]


def new_wrapping_key() -> str:
    """A fresh personal-data key, base64, for ``OUTCOMES_PERSONAL_DATA_KEY``."""
    return base64.b64encode(os.urandom(32)).decode()


def seal(data_key: bytes, values: Mapping[str, Any], *context: str) -> str:
    """Seal attribute values with a participant's data key, bound to the context given."""
    plain = json.dumps(dict(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    sealed = AESSIV(data_key).encrypt(plain.encode(), [SEPARATOR.join(context).encode()])
    return SEALED_PREFIX + base64.urlsafe_b64encode(sealed).decode()


def unseal(data_key: bytes, token: str, *context: str) -> dict[str, Any]:
    if not token.startswith(SEALED_PREFIX) or len(token) > MAX_SEALED_CHARS:
        raise UnreadableSealedValue("not a sealed value of this version")
    try:
        sealed = base64.urlsafe_b64decode(token.removeprefix(SEALED_PREFIX))
        plain = AESSIV(data_key).decrypt(sealed, [SEPARATOR.join(context).encode()])
    except (binascii.Error, ValueError, InvalidTag):
        raise UnreadableSealedValue("the sealed value does not open with this key") from None
    values: dict[str, Any] = json.loads(plain)
    return values


class PersonalDataVault:
    """Participants' data keys, wrapped by the service's personal-data key, in SQL.

    Writes here commit on their own, before the event that uses the key is saved: a key whose
    event then failed to save is harmless, and the retry finds it.
    """

    def __init__(
        self,
        engine: Engine,
        wrapping_key: str,
        *,
        previous_keys: Sequence[str] = (),
        owns_engine: bool = False,
    ) -> None:
        self._engine = engine
        self._wrapping_key_id = wrapping_key_id(wrapping_key)
        self._wrapper = AESGCM(parse_wrapping_key(wrapping_key))
        # keys being rotated out: they still open what they wrapped, and wrap nothing new
        self._openers = {wrapping_key_id(k): AESGCM(parse_wrapping_key(k)) for k in previous_keys}
        self._openers[self._wrapping_key_id] = self._wrapper
        self._owns_engine = owns_engine

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    # ---- keys -------------------------------------------------------------------------------
    def key_for_writing(self, contract_id: str, participant_id: str, at: dt.datetime) -> bytes:
        """The participant's data key, made on first use; refused once its data was erased."""
        row = self._row(contract_id, participant_id)
        if row is None:
            wrapped = self._wrap_new(contract_id, participant_id)
            with self._engine.begin() as connection:
                self._insert_row(connection, contract_id, participant_id, wrapped, at)
            row = self._row(contract_id, participant_id)
            assert row is not None
        if row.wrapped_key is None:
            raise ErasedPersonalData(participant_id)
        return self._unwrap(row)

    def key_for_reading(self, contract_id: str, participant_id: str) -> bytes | None:
        """The data key, or ``None`` when there never was one or it was erased."""
        row = self._row(contract_id, participant_id)
        if row is None or row.wrapped_key is None:
            return None
        return self._unwrap(row)

    def erasure(self, contract_id: str, participant_id: str) -> Erasure | None:
        row = self._row(contract_id, participant_id)
        if row is None or row.erased_at is None:
            return None
        return Erasure(aware(row.erased_at), str(row.erased_by), first=False)

    def erase(self, contract_id: str, participant_id: str, actor: str, at: dt.datetime) -> Erasure:
        """Destroy the participant's data key (idempotent: a second call changes nothing).

        A participant that never had personal data gets an erased row all the same, so that no
        personal data is taken for it afterwards.
        """
        with self._engine.begin() as connection:
            self._secure_delete(connection)
            inserted = self._insert_row(connection, contract_id, participant_id, None, at, actor)
            updated = connection.execute(
                sa.update(participant_keys)
                .where(participant_keys.c.contract_id == contract_id)
                .where(participant_keys.c.participant_id == participant_id)
                .where(participant_keys.c.erased_at.is_(None))
                .values(wrapped_key=None, erased_at=at, erased_by=actor)
            ).rowcount
        self._flush_sqlite_journal()
        erased = self.erasure(contract_id, participant_id)
        assert erased is not None
        return Erasure(erased.erased_at, erased.erased_by, first=bool(inserted or updated))

    # ---- storage ----------------------------------------------------------------------------
    def _row(self, contract_id: str, participant_id: str) -> Any:
        with self._engine.connect() as connection:
            return connection.execute(
                sa.select(participant_keys)
                .where(participant_keys.c.contract_id == contract_id)
                .where(participant_keys.c.participant_id == participant_id)
            ).one_or_none()

    def _insert_row(
        self,
        connection: Connection,
        contract_id: str,
        participant_id: str,
        wrapped: bytes | None,
        at: dt.datetime,
        erased_by: str | None = None,
    ) -> bool:
        """Insert unless a row exists: concurrent first uses keep one key between them."""
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        return (
            connection.execute(
                insert(participant_keys)
                .values(
                    contract_id=contract_id,
                    participant_id=participant_id,
                    wrapped_key=wrapped,
                    wrapping_key_id=self._wrapping_key_id,
                    created_at=at,
                    erased_at=None if wrapped is not None else at,
                    erased_by=erased_by,
                )
                .on_conflict_do_nothing()
                .returning(participant_keys.c.participant_id)
            ).first()
            is not None
        )

    def _secure_delete(self, connection: Connection) -> None:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA secure_delete=ON")

    def _flush_sqlite_journal(self) -> None:
        """On SQLite, copy the change into the main file and empty the write-ahead log, so no
        earlier page holding the wrapped key is left in either file."""
        if self._engine.dialect.name != "sqlite":
            return
        with self._engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    # ---- wrapping ---------------------------------------------------------------------------
    def _wrap_new(self, contract_id: str, participant_id: str) -> bytes:
        return self._wrap(contract_id, participant_id, AESSIV.generate_key(DATA_KEY_BITS))

    def _wrap(self, contract_id: str, participant_id: str, data_key: bytes) -> bytes:
        nonce = os.urandom(WRAP_NONCE_BYTES)
        aad = SEPARATOR.join((contract_id, participant_id)).encode()
        return nonce + self._wrapper.encrypt(nonce, data_key, aad)

    def _unwrap(self, row: Any) -> bytes:
        opener = self._openers.get(str(row.wrapping_key_id))
        if opener is None:
            raise UnreadableSealedValue(
                f"a participant key is wrapped by key {row.wrapping_key_id}, which is neither "
                "OUTCOMES_PERSONAL_DATA_KEY nor one of OUTCOMES_PERSONAL_DATA_PREVIOUS_KEYS"
            )
        aad = SEPARATOR.join((str(row.contract_id), str(row.participant_id))).encode()
        wrapped = bytes(row.wrapped_key)
        nonce, sealed = wrapped[:WRAP_NONCE_BYTES], wrapped[WRAP_NONCE_BYTES:]
        try:
            return opener.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise UnreadableSealedValue(
                f"a participant key does not open with the key {row.wrapping_key_id} it names"
            ) from None

    # ---- rotation ---------------------------------------------------------------------------
    def rewrap(self, batch: int = 500) -> int:
        """Wrap every participant key still wrapped by a previous key with the current one, a
        batch a transaction; returns how many it re-wrapped. Safe to run while the service
        runs (a row is changed only if it is still as read: erased or re-wrapped meanwhile, it
        is left) and to run again (it then finds nothing)."""
        done = 0
        after = ("", "")
        while True:
            with self._engine.begin() as connection:
                rows = connection.execute(
                    sa.select(participant_keys)
                    .where(participant_keys.c.wrapped_key.is_not(None))
                    .where(participant_keys.c.wrapping_key_id != self._wrapping_key_id)
                    .where(
                        sa.tuple_(participant_keys.c.contract_id, participant_keys.c.participant_id)
                        > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
                    )
                    .order_by(participant_keys.c.contract_id, participant_keys.c.participant_id)
                    .limit(batch)
                ).all()
                for row in rows:
                    data_key = self._unwrap(row)
                    done += connection.execute(
                        sa.update(participant_keys)
                        .where(participant_keys.c.contract_id == row.contract_id)
                        .where(participant_keys.c.participant_id == row.participant_id)
                        .where(participant_keys.c.wrapping_key_id == row.wrapping_key_id)
                        .where(participant_keys.c.wrapped_key.is_not(None))
                        .values(
                            wrapped_key=self._wrap(row.contract_id, row.participant_id, data_key),
                            wrapping_key_id=self._wrapping_key_id,
                        )
                    ).rowcount
            if len(rows) < batch:
                break
            after = (rows[-1].contract_id, rows[-1].participant_id)
        self._flush_sqlite_journal()
        return done

    def wrapped_by(self) -> dict[str, int]:
        """How many participant keys each wrapping key wraps (erased ones have none)."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(participant_keys.c.wrapping_key_id, sa.func.count())
                .where(participant_keys.c.wrapped_key.is_not(None))
                .group_by(participant_keys.c.wrapping_key_id)
            ).all()
        return {str(key_id): int(count) for key_id, count in rows}
