"""A full disk under the embedded SQLite store: writes answer 503 with Retry-After (never 500),
reads go on, nothing half-written is left, and writes succeed again once there is room.

The disk is a small tmpfs mounted for the test (root may mount one here and in CI); where
mounting is not permitted the test says so and is skipped.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.claims.api import create_app
from services.claims.settings import ClaimsSettings
from shared.auth import Role, TokenSigner
from shared.settings import CommonSettings
from tests.claims.helpers import PROVIDER
from tests.conftest import IPS_RULEBOOK, serving

EVENTS = "/v1/contracts/ips-employment/events/batch"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def batch(start: int, size: int = 200) -> dict[str, object]:
    return {
        "events": [
            {
                "event_id": f"full-{start + i}",
                "participant_ref": f"case-{start + i}",
                "type": "referral",
                "occurred_on": "2026-03-02",
                "attributes": {"referral_source": "primary_care"},
            }
            for i in range(size)
        ]
    }


async def test_a_full_disk_is_503_and_loses_nothing(small_disk: Path) -> None:
    common = CommonSettings(env="test", data_dir=small_disk)
    signer = TokenSigner.from_settings(common)
    admin = {"Authorization": f"Bearer {signer.issue(Role.ADMIN)}"}
    provider = {"Authorization": f"Bearer {signer.issue(Role.PROVIDER, provider_id=PROVIDER)}"}
    settings = ClaimsSettings(population_close_interval_s=0)
    async with serving(create_app(settings, common)) as client:
        registered = await client.post(
            "/v1/contracts",
            content=IPS_RULEBOOK.read_text(),
            headers={**admin, "Content-Type": "application/yaml"},
        )
        assert registered.status_code == 201, registered.text
        recorded, refused = 0, None
        for start in range(0, 100_000, 200):
            response = await client.post(EVENTS, json=batch(start), headers=provider)
            if response.status_code != 201:
                refused = response
                break
            recorded += 200
        assert refused is not None, "the disk never filled"
        assert refused.status_code == 503, refused.text
        assert "retry-after" in refused.headers
        assert recorded > 0
        health = await client.get("/healthz")
        assert health.status_code == 200
        page = await client.get("/feed?limit=1000", headers=admin)
        assert page.status_code == 200  # reads go on
        head = page.json()["head_position"]
        again = await client.post(EVENTS, json=batch(start), headers=provider)
        assert again.status_code == 503
        assert (await client.get("/feed?limit=1", headers=admin)).json()["head_position"] == head
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    async with serving(create_app(settings, common)) as client:
        retried = await client.post(EVENTS, json=batch(start), headers=provider)
        assert retried.status_code == 201, retried.text  # room again: the same batch goes in
