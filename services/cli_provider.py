"""A provider's commands: ``outcomes import events`` and ``outcomes diagnose``.

``outcomes diagnose PARTICIPANT --contract ID [--event EVENT_ID]`` prints, for each outcome,
whether it was derived for the participant or the first thing that stopped it.

``outcomes import events FILE.csv|FILE.xlsx --contract ID``: a provider's file of events,
sent to the claims service in parts, in bounded memory whatever the file's size.

The file is read twice, a part of ``PART_ROWS`` rows at a time. First every part is checked
(``dry_run``) and every problem printed as ``FILE:line: column: message``; if there is one,
nothing is recorded. Then the parts are recorded. A part already recorded is answered as
before, so after an outage the same command finishes the job and records nothing twice. With
``--valid-rows`` the valid rows are recorded in one pass and the rejected ones written beside
the file (``FILE.rejected.csv``) to fix and send again. A progress bar goes to standard error.

With ``--job`` the whole file is uploaded once as an import job (``POST …/imports``; an XLSX
file is sent as CSV) and the command follows the job to its end, with the same progress bar,
problems and rejected file; if the command is stopped, the job goes on in the service, and
``--follow JOB_ID`` follows it again.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.auth import Role, TokenSigner
from shared.progress import Progress
from shared.settings import CommonSettings

PART_ROWS = 5_000
HTTP_TIMEOUT_S = 300.0
MAX_PRINTED = 1_000


@dataclass
class Part:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # each row's line (or sheet row) in the file

    def body(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buffer.getvalue().encode()

    def file_line(self, line_in_part: int | None) -> int | None:
        """The file's line of a line the service named in this part (its header is line 1;
        the part is written one row a line unless a cell holds a line break)."""
        if line_in_part is None:
            return None
        if line_in_part == 1:
            return 1  # the header, the file's first line (or sheet row)
        found = 1
        for index, row in enumerate(self.rows):
            found += 1 + sum(cell.count("\n") for cell in row)
            if found >= line_in_part:
                return self.lines[index]
        return None


def add_import_command(commands: Any) -> None:
    imports = commands.add_parser("import", help="import a provider's file into the claims service")
    what = imports.add_subparsers(required=True, metavar="WHAT")
    events = what.add_parser(
        "events", help="participant events from a CSV (UTF-8) or XLSX file, one event per row"
    )
    events.add_argument("file", type=Path)
    events.add_argument("--contract", required=True)
    events.add_argument(
        "--valid-rows",
        action="store_true",
        help="record the valid rows and write the rejected ones to FILE.rejected.csv",
    )
    events.add_argument(
        "--url", default=os.environ.get("OUTCOMES_CLAIMS_URL", "http://127.0.0.1:8001")
    )
    events.add_argument("--token", default=os.environ.get("OUTCOMES_TOKEN"), help="provider token")
    events.add_argument("--provider", help="without --token: mint a local token for this provider")
    events.add_argument(
        "--job", action="store_true", help="upload the whole file once and let the service "
        "import it (a job you can follow again with --follow)",
    )  # fmt: skip
    events.add_argument("--follow", metavar="JOB_ID", help="follow an import job already sent")
    events.add_argument("--part-rows", type=int, default=PART_ROWS, help=argparse.SUPPRESS)
    events.add_argument("--poll-s", type=float, default=1.0, help=argparse.SUPPRESS)
    events.set_defaults(handler=import_events)


def add_diagnose_command(commands: Any) -> None:
    diagnose = commands.add_parser(
        "diagnose", help="why each outcome was (or was not) derived for a participant"
    )
    diagnose.add_argument("participant", help="the participant's id (p_…), as intake answers")
    diagnose.add_argument("--contract", required=True)
    diagnose.add_argument("--event", help="judge the outcomes this event could trigger")
    diagnose.add_argument(
        "--url", default=os.environ.get("OUTCOMES_CLAIMS_URL", "http://127.0.0.1:8001")
    )
    diagnose.add_argument("--token", default=os.environ.get("OUTCOMES_TOKEN"))
    diagnose.add_argument(
        "--provider", help="without --token: mint a local token for this provider"
    )
    diagnose.set_defaults(handler=print_diagnosis)


def print_diagnosis(args: argparse.Namespace) -> int:
    token = _token(args)
    if token is None:
        return 2
    response = httpx.get(
        f"{args.url.rstrip('/')}/v1/contracts/{args.contract}/participants/"
        f"{args.participant}/diagnosis",
        params={"event_id": args.event} if args.event else None,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if response.status_code != 200:
        _refused(response)
        return 1
    for outcome in response.json()["outcomes"]:
        events = ", ".join(outcome["trigger_event_ids"])
        if outcome["status"] == "derived":
            print(f"{outcome['outcome_id']}: derived ({events})")
        else:
            judged = f" [{events}]" if events else ""
            print(f"{outcome['outcome_id']}: not derived{judged}: {outcome['reason']}")
    return 0


def _token(args: argparse.Namespace) -> str | None:
    """The given token, or one minted locally for ``--provider``."""
    if args.token is not None:
        return str(args.token)
    if not args.provider:
        print("give --token (a provider token) or --provider to mint one", file=sys.stderr)
        return None
    return TokenSigner.from_settings(CommonSettings()).issue(
        Role.PROVIDER, subject="outcomes-cli", provider_id=args.provider, ttl_s=3600
    )


def import_events(args: argparse.Namespace) -> int:
    path: Path = args.file
    token = _token(args)
    if token is None:
        return 2
    if not 1 <= args.part_rows <= 100_000:
        print("--part-rows must be 1 to 100,000", file=sys.stderr)
        return 2
    base = f"{args.url.rstrip('/')}/v1/contracts/{args.contract}"
    if args.job or args.follow:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"},
                          timeout=HTTP_TIMEOUT_S) as client:  # fmt: skip
            return _import_job(client, base, path, args)
    total = _count_rows(path)
    url = f"{base}/events"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    with httpx.Client(headers=headers, timeout=HTTP_TIMEOUT_S) as client:
        if args.valid_rows:
            return _record_valid_rows(client, url, path, total, args.part_rows)
        if not _checked(client, url, path, total, args.part_rows):
            return 1
        return _record(client, url, path, total, args.part_rows)


def _checked(client: httpx.Client, url: str, path: Path, total: int, part_rows: int) -> bool:
    """Every part checked (and event ids across parts); the problems printed. True if there
    is none."""
    progress, done, bad = Progress(f"checking {path.name}"), 0, 0
    with _SeenIds() as seen:
        for part in _parts(path, part_rows):
            response = client.post(url, content=part.body(), params={"dry_run": "true"})
            if response.status_code not in (200, 201, 422):
                _refused(response)
                return False
            for problem in response.json().get("errors", []):
                bad += 1
                if bad <= MAX_PRINTED:
                    _print_problem(path, part, problem)
            for line, first in seen.repeated(part):
                bad += 1
                if bad <= MAX_PRINTED:
                    print(f"{path}:{line}: event_id: also on line {first}", file=sys.stderr)
            done += len(part.rows)
            progress.update(done, total, done)
    progress.finish()
    if bad:
        print(f"{path}: {bad:,} problems; nothing was recorded", file=sys.stderr)
    return not bad


def _record(client: httpx.Client, url: str, path: Path, total: int, part_rows: int) -> int:
    progress, done = Progress(f"recording {path.name}"), 0
    totals: dict[str, int] = {}
    for part in _parts(path, part_rows):
        response = client.post(url, content=part.body())
        if response.status_code not in (200, 201):
            _refused(response)
            print(
                f"{path}: stopped after {done:,} rows; run the same command again to finish "
                "(rows already recorded are not recorded twice)",
                file=sys.stderr,
            )
            return 1
        _add(totals, response.json())
        done += len(part.rows)
        progress.update(done, total, done)
    progress.finish()
    _summary(path, totals)
    return 0


def _record_valid_rows(
    client: httpx.Client, url: str, path: Path, total: int, part_rows: int
) -> int:
    progress, done = Progress(f"recording {path.name}"), 0
    totals: dict[str, int] = {}
    rejected_path = path.with_name(path.name + ".rejected.csv")
    with rejected_path.open("w", encoding="utf-8", newline="") as rejected:
        writer = csv.writer(rejected, lineterminator="\r\n")
        for index, part in enumerate(_parts(path, part_rows)):
            if index == 0:
                writer.writerow(["line", "problems", *part.header])
            response = client.post(url, content=part.body(), params={"mode": "valid-rows"})
            if response.status_code not in (200, 201):
                _refused(response)
                return 1
            answer = response.json()
            _add(totals, answer)
            by_line: dict[int | None, list[str]] = {}
            for problem in answer["errors"]:
                key = part.file_line(problem.get("line"))
                by_line.setdefault(key, []).append(f"{problem['field']}: {problem['message']}")
            for line, row in zip(part.lines, part.rows, strict=True):
                if line in by_line:
                    writer.writerow([line, "; ".join(by_line[line]), *row])
            done += len(part.rows)
            progress.update(done, total, done)
    progress.finish()
    _summary(path, totals)
    if totals.get("rejected"):
        print(f"{rejected_path}: {totals['rejected']:,} rejected rows to fix and send again")
    else:
        rejected_path.unlink()
    return 0


class _SeenIds:
    """Event ids seen in earlier parts, kept on disk (a temporary SQLite file), so that a
    repeat across parts is found in bounded memory however long the file."""

    def __enter__(self) -> _SeenIds:
        self._directory = tempfile.TemporaryDirectory(prefix="outcomes-import-")
        self._db = sqlite3.connect(Path(self._directory.name) / "ids.sqlite")
        self._db.execute("CREATE TABLE seen (event_id TEXT PRIMARY KEY, line INTEGER)")
        return self

    def __exit__(self, *_: object) -> None:
        self._db.close()
        self._directory.cleanup()

    def repeated(self, part: Part) -> list[tuple[int, int]]:
        """(line, first line) of each row whose event id an earlier part had; then this
        part's ids are kept (a repeat within the part is the service's to name)."""
        if "event_id" not in part.header:
            return []
        column = part.header.index("event_id")
        ids = [(row[column].strip(), line) for row, line in zip(part.rows, part.lines, strict=True)
               if len(row) > column]  # fmt: skip
        found = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            earlier = dict(
                self._db.execute(
                    f"SELECT event_id, line FROM seen WHERE event_id IN ({marks})",  # noqa: S608
                    [event_id for event_id, _ in chunk],
                )
            )
            found += [(line, earlier[e]) for e, line in chunk if e in earlier]
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", ids)
        return found


UPLOAD_CHUNK = 256 * 1024


def _import_job(client: httpx.Client, base: str, path: Path, args: argparse.Namespace) -> int:
    """Upload the file as a job (unless following one), follow it, then report as the
    part-by-part import does."""
    if args.follow:
        job_url = f"{base}/imports/{args.follow}"
    else:
        size = path.stat().st_size
        progress = Progress(f"uploading {path.name}")
        response = client.post(
            f"{base}/imports",
            content=_upload(path, progress, size),
            params={"mode": "valid-rows" if args.valid_rows else "all"},
            headers={"Content-Type": "text/csv"},
        )
        progress.finish()
        if response.status_code != 202:
            _refused(response)
            for problem in response.json().get("errors", [])[:MAX_PRINTED]:
                _print_job_problem(path, problem)
            return 1
        job_url = str(response.url.join(response.headers["Location"]))
        print(f"{path}: import job {response.json()['job_id']}", file=sys.stderr)
    job = _followed(client, job_url, path, _count_rows(path), args.poll_s)
    if job is None:
        return 1
    totals = {name: int(job[name] or 0) for name in
              ("rows", "recorded", "already_recorded", "rejected", "claims_derived")}  # fmt: skip
    for problem in job["errors"][:MAX_PRINTED]:
        _print_job_problem(path, problem)
    if job["status"] == "refused":
        print(f"{path}: {job['detail']}", file=sys.stderr)
        return 1
    if job["status"] == "failed":
        print(f"{path}: the import failed: {job['detail']}; send the file again to finish it "
              "(rows already recorded are not recorded twice)", file=sys.stderr)  # fmt: skip
        return 1
    _summary(path, totals)
    if job["rejected"]:
        rejected_path = path.with_name(path.name + ".rejected.csv")
        with client.stream("GET", f"{job_url}/rejected") as answer, rejected_path.open("wb") as out:
            for chunk in answer.iter_bytes():
                out.write(chunk)
        print(f"{rejected_path}: {job['rejected']:,} rejected rows to fix and send again")
    return 0


def _upload(path: Path, progress: Progress, size: int) -> Iterator[bytes]:
    """The file's bytes as they are (CSV), or its first sheet written as CSV (XLSX)."""
    sent = 0
    if path.suffix.lower() == ".xlsx":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for _, cells in _xlsx_rows(path):
            writer.writerow(cells)
            if buffer.tell() >= UPLOAD_CHUNK:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()
        return
    with path.open("rb") as handle:
        while chunk := handle.read(UPLOAD_CHUNK):
            sent += len(chunk)
            progress.update(sent, size, sent)
            yield chunk


def _print_job_problem(path: Path, problem: dict[str, Any]) -> None:
    """A job's problem: its line is the file's (a sheet's row, for XLSX)."""
    where = f":{problem['line']}" if problem.get("line") else ""
    print(f"{path}{where}: {problem['field']}: {problem['message']}", file=sys.stderr)


def _followed(client: httpx.Client, job_url: str, path: Path, total: int, poll_s: float) -> Any:
    """Poll the job until it ends, with a progress bar per phase; its last state."""
    bars: dict[str, Progress] = {}
    while True:
        response = client.get(job_url)
        if response.status_code != 200:
            _refused(response)
            return None
        job = response.json()
        status = job["status"]
        if status in ("checking", "recording"):
            bar = bars.setdefault(status, Progress(f"{status} {path.name}"))
            if status == "checking":
                bar.update(job["rows_checked"], total, job["rows_checked"])
            else:
                good = (job["rows"] or total) - job["rejected"]
                bar.update(job["rows_recorded"], good, job["rows_recorded"])
        if status in ("done", "refused", "failed"):
            for bar in bars.values():
                bar.finish()
            return job
        time.sleep(poll_s)  # a person's command, polling a job it does not hold


def _add(totals: dict[str, int], answer: dict[str, Any]) -> None:
    for name in ("rows", "recorded", "already_recorded", "rejected", "claims_derived"):
        totals[name] = totals.get(name, 0) + int(answer[name])


def _summary(path: Path, totals: dict[str, int]) -> None:
    print(
        f"{path}: {totals.get('rows', 0):,} rows, {totals.get('recorded', 0):,} events "
        f"recorded, {totals.get('already_recorded', 0):,} recorded before, "
        f"{totals.get('rejected', 0):,} rejected, {totals.get('claims_derived', 0):,} claims "
        "derived"
    )


def _print_problem(path: Path, part: Part, problem: dict[str, Any]) -> None:
    line = part.file_line(problem.get("line"))
    where = f":{line}" if line is not None else ""
    print(f"{path}{where}: {problem['field']}: {problem['message']}", file=sys.stderr)


def _refused(response: httpx.Response) -> None:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    print(f"refused ({response.status_code}): {detail}", file=sys.stderr)


def _parts(path: Path, part_rows: int) -> Iterator[Part]:
    rows = _xlsx_rows(path) if path.suffix.lower() == ".xlsx" else _csv_rows(path)
    header: list[str] | None = None
    part: Part | None = None
    for line, cells in rows:
        if header is None:
            header = cells
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if part is None:
            part = Part(header)
        part.rows.append(cells)
        part.lines.append(line)
        if len(part.rows) == part_rows:
            yield part
            part = None
    if part is not None:
        yield part


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Rows of a UTF-8 file (a byte order mark is dropped), with their lines; a file in
    another encoding stops with the line of the first byte that is not UTF-8."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            for cells in reader:
                yield reader.line_num, cells
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 ({exc.reason}); save it as CSV UTF-8") from None


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The first sheet's rows as text: dates as YYYY-MM-DD, whole numbers without ``.0``."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_text(value) for value in values]
    finally:
        workbook.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _count_rows(path: Path) -> int:
    """Data rows, for the progress bar (one quick pass)."""
    return sum(1 for _ in _parts_rows(path))


def _parts_rows(path: Path) -> Iterator[None]:
    for part in _parts(path, PART_ROWS):
        for _ in part.rows:
            yield None
