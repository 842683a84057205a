"""`outcomes metrics rebuild` empties the read models and replays both feeds; every table comes
back row for row, and `outcomes dashboard` saves the same page the service serves."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.metrics.rebuild import READ_MODELS
from shared.auth import TokenSigner
from shared.sqlviews import create_engine
from shared.storeurls import sqlalchemy_url
from tests.stores import store_urls
from tests.system.processes import Stack, running_stack
from tests.system.test_dashboard import CONTRACT, MONTH, load_history, reports_when_settled

pytestmark = pytest.mark.system


@pytest.fixture
def stack(store: str, tmp_path: Path) -> Iterator[Stack]:
    with store_urls(store, tmp_path) as urls, running_stack(tmp_path, urls) as stack:
        yield stack


def snapshot(store_url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(sqlalchemy_url(store_url))
    try:
        with engine.connect() as connection:
            return {
                table.name: sorted(
                    tuple(str(v) for v in row) for row in connection.execute(sa.select(table))
                )
                for table in READ_MODELS
            }
    finally:
        engine.dispose()


def test_a_rebuild_gives_back_every_read_model_row_for_row(
    stack: Stack, signer: TokenSigner, tmp_path: Path
) -> None:
    admin = load_history(stack, signer)
    before = reports_when_settled(stack, admin)
    stopped = stack.processes.pop("metrics")
    stopped.terminate()
    stopped.wait(15)
    rows_before = snapshot(stack.store_urls["metrics"])
    assert len(rows_before["mx_cube"]) > 20 and len(rows_before["mx_money"]) == 2

    result = stack.cli("metrics", "rebuild")

    assert result.returncode == 0, result.stderr
    assert "rebuilt:" in result.stdout
    assert "claims feed [##############################] 100%" in result.stderr
    assert snapshot(stack.store_urls["metrics"]) == rows_before
    stack.start("metrics")
    after = httpx.get(
        f"{stack.urls['metrics']}/v1/contracts/{CONTRACT}/reports",
        params={"month": MONTH},
        headers=admin,
        timeout=10,
    ).json()
    assert after["sections"] == before["sections"]

    saved = tmp_path / "pack.html"
    command = stack.cli(
        "dashboard", CONTRACT, "--month", MONTH, "--url", stack.urls["metrics"], "--out", str(saved)
    )
    assert command.returncode == 0, command.stderr
    served = httpx.get(
        f"{stack.urls['metrics']}/dashboard/{CONTRACT}",
        params={"month": MONTH},
        headers=admin,
        timeout=10,
    )
    assert saved.read_text(encoding="utf-8") == served.text
    assert 'data-figure="funnel|referral|contract_to_date">5<' in served.text


def test_the_cli_says_why_when_the_claims_service_is_not_there(
    stack: Stack, tmp_path: Path
) -> None:
    result = stack.cli("metrics", "rebuild", "--claims-url", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "outcomes:" in result.stderr
    assert isinstance(result, subprocess.CompletedProcess)
