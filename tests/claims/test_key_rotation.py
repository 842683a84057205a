"""Issue 21, point 8 (the personal-data key): OUTCOMES_PERSONAL_DATA_KEY is rotated without
downtime. The service runs with the new key and the old one among
OUTCOMES_PERSONAL_DATA_PREVIOUS_KEYS (it opens what either wrapped and wraps only with the
new); `outcomes keys rewrap-personal-data` re-wraps what the old key wrapped; then the old key
can be removed, and it no longer opens anything."""

from __future__ import annotations

import datetime as dt

import pytest

from services.claims.personal import (
    PersonalDataVault,
    UnreadableSealedValue,
    new_wrapping_key,
    wrapping_key_id,
)
from services.cli import main
from shared.settings import CommonSettings, InsecureSettingsError
from tests.stores import migrated_engine

AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
OLD, NEW = new_wrapping_key(), new_wrapping_key()


def test_a_rotation_keeps_every_key_readable_and_ends_with_the_new_key_alone(
    urls: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with migrated_engine(urls["claims"], "claims") as engine:
        before = PersonalDataVault(engine, OLD)
        data_keys = {p: before.key_for_writing("c-1", p, AT) for p in ("p-1", "p-2", "p-3")}
        before.erase("c-1", "p-3", "admin:alice", AT)
        assert before.wrapped_by() == {wrapping_key_id(OLD): 2}

        during = PersonalDataVault(engine, NEW, previous_keys=[OLD])
        assert during.key_for_reading("c-1", "p-1") == data_keys["p-1"]
        data_keys["p-4"] = during.key_for_writing("c-1", "p-4", AT)  # wrapped with the new key
        assert during.wrapped_by() == {wrapping_key_id(OLD): 2, wrapping_key_id(NEW): 1}
        with pytest.raises(UnreadableSealedValue, match=wrapping_key_id(OLD)):
            PersonalDataVault(engine, NEW).key_for_reading("c-1", "p-1")

        monkeypatch.setenv("CLAIMS_DATABASE_URL", urls["claims"])
        monkeypatch.setenv("OUTCOMES_PERSONAL_DATA_KEY", NEW)
        monkeypatch.setenv("OUTCOMES_PERSONAL_DATA_PREVIOUS_KEYS", f" {OLD} ,")
        assert main(["keys", "rewrap-personal-data"]) == 0
        said = capsys.readouterr().out
        assert f"re-wrapped 2 participant keys with key {wrapping_key_id(NEW)}" in said
        assert main(["keys", "rewrap-personal-data"]) == 0  # again: nothing left to do
        assert "re-wrapped 0 participant keys" in capsys.readouterr().out

        after = PersonalDataVault(engine, NEW)  # the old key removed
        assert after.wrapped_by() == {wrapping_key_id(NEW): 3}
        for participant in ("p-1", "p-2", "p-4"):
            assert after.key_for_reading("c-1", participant) == data_keys[participant]
        assert after.key_for_reading("c-1", "p-3") is None  # erased stays erased
        with pytest.raises(UnreadableSealedValue):
            PersonalDataVault(engine, OLD).key_for_reading("c-1", "p-1")


def test_rewrapping_goes_a_batch_at_a_time_and_stops_at_a_key_it_does_not_have(
    urls: dict[str, str],
) -> None:
    with migrated_engine(urls["claims"], "claims") as engine:
        old = PersonalDataVault(engine, OLD)
        keys = {f"p-{n}": old.key_for_writing("c-2", f"p-{n}", AT) for n in range(5)}
        rotated = PersonalDataVault(engine, NEW, previous_keys=[OLD])
        assert rotated.rewrap(batch=2) == 5
        assert {p: rotated.key_for_reading("c-2", p) for p in keys} == keys
        stranger = new_wrapping_key()
        PersonalDataVault(engine, stranger).key_for_writing("c-2", "p-9", AT)
        with pytest.raises(UnreadableSealedValue, match=wrapping_key_id(stranger)):
            rotated.rewrap()


def test_a_previous_key_that_is_not_a_key_stops_the_service_at_start() -> None:
    settings = CommonSettings(personal_data_previous_keys="not-base64!")  # type: ignore[arg-type]
    with pytest.raises(InsecureSettingsError, match="OUTCOMES_PERSONAL_DATA_PREVIOUS_KEYS"):
        settings.check_secrets()
