"""Import jobs: a whole file uploaded once (202 and a `Location`), checked and recorded by the
service in the background as the synchronous import would, each event once even when the job
is stopped and taken over, its problems and rejected rows kept to read."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.claims.importjobs import ImportJobs
from services.claims.imports import BATCH_ROWS
from shared.errors import NotFound, TooMany
from tests.claims.test_api import Auth, client, provider
from tests.claims.test_import import HEADER, STORY, csv_file
from tests.test_telemetry import samples, value

__all__ = ["client"]  # the fixture

IMPORTS = "/v1/contracts/ips-employment/imports"
DEADLINE_S = 60


def story_rows(count: int, prefix: str = "p") -> list[str]:
    """``count`` participants' stories, four rows each, with their own event ids."""
    return [
        row.replace("ev-", f"{prefix}{index}-").replace("case-1", f"case-{prefix}{index}")
        for index in range(count)
        for row in STORY
    ]


async def upload(client: httpx.AsyncClient, auth: Auth, body: bytes, **params: Any
                 ) -> httpx.Response:  # fmt: skip
    headers = provider(auth) | {"Content-Type": "text/csv"}
    return await client.post(IMPORTS, content=body, params=params, headers=headers)


async def finished(client: httpx.AsyncClient, headers: dict[str, str], location: str
                   ) -> dict[str, Any]:  # fmt: skip
    """The job once it has ended, polled as a client would, within a deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        answer = await client.get(location, headers=headers)
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        if job["status"] in ("done", "refused", "failed"):
            return job
        assert time.monotonic() < deadline, f"the job did not end: {job}"
        await asyncio.sleep(0.05)


async def claims_count(client: httpx.AsyncClient, auth: Auth, expected: int) -> int:
    """The claims list's length once it reaches ``expected`` (or at the deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        found, after = 0, None
        while True:
            params = {"limit": 500} | ({"after": after} if after is not None else {})
            page = (await client.get("/v1/claims", params=params, headers=auth("admin"))).json()
            found += len(page["items"])
            after = page["next_after"]
            if not page["items"]:
                break
        if found >= expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_a_file_is_uploaded_once_and_imported_by_the_service(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    body = csv_file(*story_rows(300))  # 1,200 rows: two batches
    answer = await upload(client, auth, body)
    assert answer.status_code == 202, answer.text
    location = answer.headers["Location"]
    assert location == f"{IMPORTS}/{answer.json()['job_id']}"
    assert answer.json()["status"] != "receiving" and answer.json()["bytes"] == len(body)
    job = await finished(client, provider(auth), location)
    assert job["status"] == "done", job
    assert (job["rows"], job["rows_checked"], job["rows_recorded"]) == (1200, 1200, 1200)
    assert (job["recorded"], job["already_recorded"], job["rejected"]) == (1200, 0, 0)
    assert job["claims_derived"] == 900 and job["errors"] == []
    assert job["started_at"] <= job["finished_at"]
    assert await claims_count(client, auth, 900) == 900
    again = await upload(client, auth, body)
    job = await finished(client, provider(auth), again.headers["Location"])
    assert (job["status"], job["recorded"], job["already_recorded"]) == ("done", 0, 1200)
    metrics = await client.get("/metrics", headers=auth("service"))
    ended = value(samples(metrics.text), "outcomes_import_jobs_ended_total", status="done")
    assert ended == 2  # what /metrics counts of the worker (issue 21)


async def test_a_bad_row_anywhere_refuses_the_file_and_records_nothing(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    rows = story_rows(300)
    rows[2] = rows[2].replace(",,20,", ",,,")  # line 4: p0's job start without hours
    rows[1100] = rows[0].replace("case-p0", "case-elsewhere")  # line 1,102: p0-1 again
    answer = await upload(client, auth, csv_file(*rows))
    job = await finished(client, provider(auth), answer.headers["Location"])
    assert job["status"] == "refused", job
    assert job["detail"] == "2 of 1,200 rows are not valid; nothing was recorded"
    assert [(p["line"], p["field"], p["message"]) for p in job["errors"]] == [
        (4, "hours_per_week", "required attribute is missing"),
        (1102, "event_id", "also on line 2"),
    ]
    assert job["recorded"] == 0
    assert await claims_count(client, auth, 0) == 0


async def test_valid_rows_are_recorded_and_the_rejected_read_back_as_csv(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    rows = story_rows(2)
    rows[2] = rows[2].replace(",,20,", ",,200,")  # line 4: over the maximum of 80
    answer = await upload(client, auth, csv_file(*rows), mode="valid-rows")
    location = answer.headers["Location"]
    job = await finished(client, provider(auth), location)
    assert (job["status"], job["recorded"], job["rejected"]) == ("done", 7, 1), job
    rejected = await client.get(f"{location}/rejected", headers=provider(auth))
    assert rejected.status_code == 200 and rejected.headers["content-type"].startswith("text/csv")
    lines = rejected.text.splitlines()
    assert lines[0] == "line,problems," + HEADER
    assert lines[1] == "4,hours_per_week: more than the maximum 80,p0-3,case-p0,job_start," \
        "2026-04-01,,200,12.50"  # fmt: skip
    assert len(lines) == 2


async def test_a_file_that_cannot_be_read_is_refused_naming_where(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    header = await upload(client, auth, csv_file(*STORY, header=HEADER + ",shoe_size"))
    assert header.status_code == 422, header.text
    assert [p["field"] for p in header.json()["errors"]] == ["shoe_size"]
    empty = await upload(client, auth, b"")
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "header"
    latin_declared = await client.post(
        IMPORTS, content=csv_file(*STORY),
        headers=provider(auth) | {"Content-Type": "text/csv; charset=latin-1"},
    )  # fmt: skip
    assert latin_declared.status_code == 422
    assert latin_declared.json()["errors"][0]["field"] == "Content-Type"
    as_json = await client.post(IMPORTS, json={"rows": []}, headers=provider(auth))
    assert as_json.status_code == 422 and as_json.json()["errors"][0]["field"] == "body"
    latin = csv_file(*STORY[:2], "ev-9,case-é,referral,2026-03-02,self,,").replace(
        "é".encode(), b"\xe9"
    )
    answer = await upload(client, auth, latin)
    job = await finished(client, provider(auth), answer.headers["Location"])
    assert (job["status"], job["detail"]) == ("refused", "the file is not UTF-8")
    assert [(p["line"], p["field"]) for p in job["errors"]] == [(4, "body")]
    assert job["recorded"] == 0


async def test_only_its_provider_and_the_contracts_readers_see_a_job(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    answer = await upload(client, auth, csv_file(*STORY))
    location = answer.headers["Location"]
    await finished(client, provider(auth), location)
    for role in ("admin", "auditor", "verifier"):
        assert (await client.get(location, headers=auth(role))).status_code == 200
    stranger = auth("provider", provider_id="stranger-provider")
    assert (await client.get(location, headers=stranger)).status_code == 403
    elsewhere = await client.get(
        location.replace("ips-employment", "other-contract"), headers=auth("admin")
    )
    assert elsewhere.status_code == 404
    unknown = await client.get(f"{IMPORTS}/00000000-0000-4000-8000-000000000000",
                               headers=provider(auth))  # fmt: skip
    assert unknown.status_code == 404
    malformed = await client.get(f"{IMPORTS}/not-a-job", headers=provider(auth))
    assert malformed.status_code == 422


def jobs_of(client: httpx.AsyncClient, stop_worker: bool = False) -> ImportJobs:
    """The service's jobs; with ``stop_worker``, its worker stopped so the test works them."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    state = transport.app.state  # type: ignore[attr-defined]
    if stop_worker:
        state.import_worker.stop()
        state.import_jobs.stopping.clear()
    jobs: ImportJobs = state.import_jobs
    return jobs


async def test_unfinished_jobs_per_provider_are_limited(client: httpx.AsyncClient) -> None:
    jobs = jobs_of(client)
    opened = [jobs.open("ips-employment", "northside-ips", "provider:t", "all")
              for _ in range(jobs.limits.max_pending)]  # fmt: skip
    with pytest.raises(TooMany) as refused:
        jobs.open("ips-employment", "northside-ips", "provider:t", "all")
    assert refused.value.status == 429 and refused.value.retry_after_s > 0
    jobs.open("ips-employment", "riverside-works", "provider:t", "all")  # another provider's own
    for job_id in opened:
        jobs.discard(job_id)
    jobs.open("ips-employment", "northside-ips", "provider:t", "all")


async def test_concurrent_uploads_never_pass_the_pending_limit_together(
    client: httpx.AsyncClient,
) -> None:
    jobs = jobs_of(client, stop_worker=True)

    def opened() -> bool:
        try:
            jobs.open("ips-employment", "northside-ips", "provider:t", "all")
        except TooMany:
            return False
        return True

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: opened(), range(12)))
    assert results.count(True) == jobs.limits.max_pending


async def test_a_job_stopped_midway_is_taken_over_and_records_each_event_once(
    client: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker is stopped after its first batch (as when its service stops); another takes
    the job over from the last saved line."""
    jobs = jobs_of(client, stop_worker=True)
    recorded_batches: list[int] = []
    record_batch = jobs._imports.record_batch

    def counting(events: list[Any], *args: Any) -> Any:
        recorded_batches.append(len(events))
        result = record_batch(events, *args)
        if len(recorded_batches) == 1:
            jobs.stopping.set()  # the service is stopping: the job is left where it got to
        return result

    monkeypatch.setattr(jobs._imports, "record_batch", counting)
    job_id = jobs.open("ips-employment", "northside-ips", "provider:t", "all")
    body = csv_file(*story_rows(600))  # 2,400 rows: three batches
    jobs.add_part(job_id, 0, body[: len(body) // 2])
    jobs.add_part(job_id, 1, body[len(body) // 2 :])
    jobs.queue(job_id, len(body))
    assert jobs.work_one()
    half = jobs.get(job_id)
    assert (half["status"], half["rows_recorded"], half["lease_owner"]) == (
        "recording", BATCH_ROWS, None
    )  # fmt: skip
    jobs.stopping.clear()
    assert jobs.work_one()
    job = jobs.get(job_id)
    assert job["status"] == "done", job
    assert recorded_batches == [1000, 1000, 400]
    assert (job["recorded"], job["already_recorded"], job["rows_recorded"]) == (2400, 0, 2400)
    assert await claims_count(client, auth, 1800) == 1800


async def test_a_job_that_keeps_failing_is_given_up_and_its_upload_dropped(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = jobs_of(client, stop_worker=True)

    def broken(*args: Any) -> Any:
        raise RuntimeError("the store is away")

    monkeypatch.setattr(jobs._imports, "record_batch", broken)
    job_id = jobs.open("ips-employment", "northside-ips", "provider:t", "all")
    jobs.add_part(job_id, 0, csv_file(*STORY))
    jobs.queue(job_id, 1)
    monkeypatch.setattr(jobs, "_lease_end", lambda: jobs._clock())  # free again at once
    for attempt in range(3):
        assert jobs.work_one(), attempt
    job = jobs.get(job_id)
    assert (job["status"], job["attempts"]) == ("failed", 3)
    assert job["detail"] == "stopped after 3 attempts; the last: RuntimeError"
    assert not jobs.work_one()  # nothing left to take


async def test_a_file_over_the_import_limit_is_refused_and_leaves_no_job(
    urls: dict[str, str], common: Any, auth: Auth
) -> None:
    from services.claims.api import create_app
    from services.claims.settings import ClaimsSettings
    from tests.claims.conftest import load_examples
    from tests.conftest import serving

    settings = ClaimsSettings(database_url=urls["claims"], import_max_bytes=2048)
    async with serving(create_app(settings, common)) as small:
        await load_examples(small, auth("admin"), "ips-employment")
        body = csv_file(*story_rows(20))
        assert len(body) > 2048
        too_large = await upload(small, auth, body)
        assert too_large.status_code == 413, too_large.text

        async def in_two(data: bytes) -> AsyncIterator[bytes]:
            yield data[:1500]
            yield data[1500:]

        streamed = await small.post(  # no Content-Length: refused as the bytes come
            IMPORTS, content=in_two(body),
            headers=provider(auth) | {"Content-Type": "text/csv"},
        )  # fmt: skip
        assert streamed.status_code == 413, streamed.text
        jobs = jobs_of(small)
        for _ in range(jobs.limits.max_pending):  # none of the refused uploads is pending
            jobs.open("ips-employment", "northside-ips", "provider:t", "all")


async def test_ended_jobs_are_pruned_after_the_days_kept(client: httpx.AsyncClient) -> None:
    jobs = jobs_of(client, stop_worker=True)
    ended = jobs.open("ips-employment", "northside-ips", "provider:t", "all")
    jobs.add_part(ended, 0, csv_file(*STORY))
    jobs.queue(ended, 1)
    assert jobs.work_one() and jobs.get(ended)["status"] == "done"
    abandoned = jobs.open("ips-employment", "northside-ips", "provider:t", "all")
    assert jobs.prune() == 0
    later = jobs._clock() + dt.timedelta(days=jobs.limits.kept_days, hours=1)
    jobs._clock = lambda: later
    assert jobs.prune() == 2
    for job_id in (ended, abandoned):
        with pytest.raises(NotFound):
            jobs.get(job_id)
