"""Import jobs over HTTP: upload a whole event file, then poll the job (see importjobs)."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from services.claims.importfiles import PART_BYTES
from services.claims.importjobs import ImportJobs
from services.claims.routes.intake import (
    CSV_MEDIA_TYPE,
    ProviderCaller,
    ProviderOrReader,
    _provider_of,
)
from services.claims.schemas import ImportJobOut, ImportProblemOut
from shared.auth import Principal, Role
from shared.errors import PROBLEM_RESPONSES, FieldProblem, InvalidInput, NotFound

router = APIRouter(tags=["intake"])
UPLOAD_PATH = re.compile(r"/v1/contracts/[^/]+/imports")


def _jobs(request: Request) -> ImportJobs:
    jobs: ImportJobs = request.app.state.import_jobs
    return jobs


def _job_answer(jobs: ImportJobs, job: dict[str, Any]) -> ImportJobOut:
    problems = jobs.problems(job["job_id"]) if job["rejected"] or job["status"] == "refused" else []
    fields = {name: job[name] for name in ImportJobOut.model_fields if name in job}
    return ImportJobOut(**fields, errors=[ImportProblemOut(**p.as_dict()) for p in problems])


@router.post(
    "/v1/contracts/{contract_id}/imports",
    summary="Upload a CSV file of events",
    status_code=202,
    response_model=ImportJobOut,
    responses={
        **PROBLEM_RESPONSES,
        404: {"description": "Unknown contract"},
        413: {"description": "The file is over CLAIMS_IMPORT_MAX_BYTES"},
        429: {"description": "Too many unfinished imports of this provider; retry later"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def post_import(
    request: Request,
    response: Response,
    contract_id: str,
    principal: ProviderCaller,
    mode: Annotated[
        Literal["all", "valid-rows"],
        Query(
            description="`all`: nothing is recorded unless every row is valid; `valid-rows`: "
            "the valid rows are recorded and the rejected ones kept (…/rejected)"
        ),
    ] = "all",
) -> ImportJobOut:
    """Upload a whole CSV file of events (`Content-Type: text/csv`, any number of rows up to
    CLAIMS_IMPORT_MAX_ROWS) to be imported by the service: 202 with a `Location` to poll.
    The file is checked and recorded as `POST …/events` does a CSV body, in the background;
    a header that does not fit the contract is refused at once (422)."""
    provider_id = _provider_of(principal, contract_id)
    media, _, parameters = request.headers.get("content-type", "").partition(";")
    if media.strip().lower() != CSV_MEDIA_TYPE:
        raise InvalidInput(
            "an import is a CSV file", [FieldProblem("body", "send Content-Type: text/csv")]
        )
    charset = parameters.strip().lower().removeprefix("charset=").strip('"')
    if parameters.strip() and charset not in ("utf-8", "utf8"):
        raise InvalidInput(
            "an import is read as UTF-8",
            [FieldProblem("Content-Type", f"charset {charset!r}: save the file as UTF-8")],
        )
    jobs = _jobs(request)
    job_id = await run_in_threadpool(jobs.open, contract_id, provider_id, principal.actor, mode)
    size, seq, pending = 0, 0, bytearray()
    try:
        async for chunk in request.stream():
            pending += chunk
            size += len(chunk)
            while len(pending) >= PART_BYTES:
                await _store(jobs, job_id, seq, bytes(pending[:PART_BYTES]))
                del pending[:PART_BYTES]
                seq += 1
        if pending or seq == 0:
            await _store(jobs, job_id, seq, bytes(pending))
        if size == 0:
            raise InvalidInput(
                "the file is empty",
                [FieldProblem("header", "the first line names the columns")],
            )
        await run_in_threadpool(jobs.queue, job_id, size)
    except BaseException:
        await run_in_threadpool(jobs.discard, job_id)
        raise
    response.headers["Location"] = f"/v1/contracts/{contract_id}/imports/{job_id}"
    return _job_answer(jobs, await run_in_threadpool(jobs.get, job_id))


async def _store(jobs: ImportJobs, job_id: str, seq: int, data: bytes) -> None:
    if seq == 0:  # the header, if it is all in the first part, is checked before going on
        await run_in_threadpool(jobs.check_header, job_id, data)
    await run_in_threadpool(jobs.add_part, job_id, seq, data)


def _readable_job(request: Request, contract_id: str, job_id: uuid.UUID, principal: Principal
                  ) -> dict[str, Any]:  # fmt: skip
    """The job, if the caller may see it: its provider, or a reader of the contract."""
    job = _jobs(request).get(str(job_id))
    mine = principal.role is not Role.PROVIDER or job["provider_id"] == principal.provider_id
    if job["contract_id"] != contract_id or not mine:
        raise NotFound(f"no import {job_id}")
    return job


@router.get(
    "/v1/contracts/{contract_id}/imports/{job_id}",
    summary="Follow an import job",
    response_model=ImportJobOut,
    responses={**PROBLEM_RESPONSES, 404: {"description": "No such import (or not yours)"}},
)
def get_import(
    request: Request, contract_id: str, job_id: uuid.UUID, principal: ProviderOrReader
) -> ImportJobOut:
    """An import job: where it is, what it recorded, and its first problems. A provider
    sees its own imports only."""
    job = _readable_job(request, contract_id, job_id, principal)
    return _job_answer(_jobs(request), job)


@router.get(
    "/v1/contracts/{contract_id}/imports/{job_id}/rejected",
    summary="Download an import's rejected rows",
    responses={
        **PROBLEM_RESPONSES,
        404: {"description": "No such import (or not yours)"},
        200: {"content": {CSV_MEDIA_TYPE: {}}},
    },
)
def get_import_rejected(
    request: Request, contract_id: str, job_id: uuid.UUID, principal: ProviderOrReader
) -> StreamingResponse:
    """The job's rejected rows as they came, with their line and problems first: fix them and
    send them again (as a file, or a new import)."""
    job = _readable_job(request, contract_id, job_id, principal)
    rows = _jobs(request).rejected_rows(job["job_id"])
    header = ["line", "problems", *json.loads(job["header"] or "[]")]
    return StreamingResponse(
        iterate_in_threadpool(_csv_lines(header, rows)),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{job_id}-rejected.csv"'},
    )


def _csv_lines(header: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
