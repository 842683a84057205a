"""Provider file import: participant events as CSV, one event per row, checked before anything
is recorded.

The columns are declared: ``event_id``, ``participant_ref``, ``type``, ``occurred_on``, then one
per attribute the rule book gives a provider-recorded event type (``template_columns``). A cell
left empty is an attribute not given. Every row is read and checked first (the file's encoding
and header, each cell against its event type, event ids repeated within the file or recorded
before with another body) and every problem is named by line and column. Then, unless some row
is bad, the rows are recorded in batches through intake (each batch one transaction); with
``valid_rows`` the good rows are recorded and the bad ones given back. A row whose event id was
recorded before with the same body is answered as before and records nothing, so a file sent
twice, or again after an outage stopped it midway, records each event once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError

from services.claims.commands import IncomingEvent
from services.claims.domain import receipt_id
from services.claims.errors import EventRejected
from services.claims.intake import Intake, check_events
from services.claims.receipts import Receipts
from services.claims.schemas import EventIn
from shared.errors import FieldProblem, InvalidInput, OutcomesError
from shared.rules.model import AttributeSpec, AttributeType, RuleBook

FIXED_COLUMNS = ("event_id", "participant_ref", "type", "occurred_on")
T = TypeVar("T")
MAX_ROWS = 100_000  # rows in one request; a longer file is sent in parts (the CLI does)
MAX_PROBLEMS = 1_000  # problems named in one answer; the rest are counted
BATCH_ROWS = 1_000  # rows recorded in one transaction
MAX_CELL_CHARS = 10_000
BOM = b"\xef\xbb\xbf"
INTEGER = re.compile(r"^-?[0-9]{1,13}$")
BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True)
class Column:
    """A column of a contract's import file, for its template."""

    name: str
    kind: str  # text, date, integer, decimal, boolean, one of: …
    used_by: tuple[str, ...]  # the event types it is an attribute of (all, for fixed columns)
    required_by: tuple[str, ...] = ()
    description: str = ""


def template_columns(rulebook: RuleBook) -> list[Column]:
    """The file's columns: the fixed four, then each attribute of a provider-recorded event
    type, in the rule book's order (an attribute several types share is one column)."""
    types = [name for name, spec in rulebook.event_types.items() if spec.recorded_by == "provider"]
    columns = [
        Column("event_id", "text", tuple(types), tuple(types), "your id of the event: unique"),
        Column("participant_ref", "text", tuple(types), tuple(types), "your participant id"),
        Column("type", f"one of: {', '.join(types)}", tuple(types), tuple(types)),
        Column("occurred_on", "date (YYYY-MM-DD)", tuple(types), tuple(types)),
    ]
    specs: dict[str, list[tuple[str, AttributeSpec]]] = {}
    for type_name in types:
        for attribute, spec in rulebook.event_types[type_name].attributes.items():
            specs.setdefault(attribute, []).append((type_name, spec))
    for attribute, uses in specs.items():
        kinds = dict.fromkeys(_kind(spec) for _, spec in uses)
        columns.append(
            Column(
                attribute,
                " or ".join(kinds),
                tuple(t for t, _ in uses),
                tuple(t for t, spec in uses if spec.required),
                "; ".join(dict.fromkeys(spec.description for _, spec in uses if spec.description)),
            )
        )
    return columns


def _kind(spec: AttributeSpec) -> str:
    if spec.type is AttributeType.ENUM:
        return f"one of: {', '.join(spec.values or [])}"
    if spec.type is AttributeType.DATE:
        return "date (YYYY-MM-DD)"
    if spec.type is AttributeType.BOOLEAN:
        return "true or false"
    return {AttributeType.STRING: "text"}.get(spec.type, str(spec.type))


@dataclass
class Row:
    line: int  # in the file: the header is line 1
    cells: list[str]
    event: IncomingEvent | None = None
    problems: list[FieldProblem] = field(default_factory=list)


@dataclass
class ImportCheck:
    """A file read and checked: its rows, each with its event or its problems."""

    header: list[str]
    rows: list[Row]

    @property
    def bad(self) -> list[Row]:
        return [row for row in self.rows if row.problems]

    def problems(self) -> list[FieldProblem]:
        return [problem for row in self.rows for problem in row.problems]


@dataclass(frozen=True)
class ImportResult:
    rows: int
    recorded: int  # events recorded now
    already_recorded: int  # rows whose event id was recorded before with the same body
    rejected: int  # rows left out (``valid_rows`` only)
    claims_derived: int
    claims_retired: int

    def plus(self, other: ImportResult) -> ImportResult:
        return ImportResult(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def read_csv(data: bytes, rulebook: RuleBook, max_rows: int = MAX_ROWS) -> ImportCheck:
    """The file's rows as events, or their problems; a file that cannot be read at all (not
    UTF-8, a bad header, too many rows) is refused whole, naming where."""
    rows = CsvRows(io.StringIO(_decoded(data), newline=""), rulebook, max_rows)
    return ImportCheck(rows.header, list(rows))


class CsvRows:
    """A CSV file's header, read and checked against the contract at once, then its rows one
    by one (blank lines left out), so a file of any length is read in bounded memory. The
    lines may come decoded already or from a stream that decodes as it goes: a byte that is
    not UTF-8 is then refused where it is read, naming its line."""

    def __init__(self, lines: Iterable[str], rulebook: RuleBook, max_rows: int) -> None:
        self._reader = csv.reader(lines, strict=True)
        self._rulebook = rulebook
        self._max_rows = max_rows
        try:
            self.header = [name.strip() for name in next(self._reader)]
        except StopIteration:
            raise InvalidInput(
                "the file is empty", [FieldProblem("header", "the first line names the columns")]
            ) from None
        except csv.Error as exc:
            raise _unreadable(1, exc) from None
        except UnicodeDecodeError as exc:
            raise not_utf8(exc, 1) from None
        _check_header(self.header, rulebook)

    def __iter__(self) -> Iterator[Row]:
        reader, count = self._reader, 0
        try:
            for cells in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line
                if count == self._max_rows:
                    raise InvalidInput(
                        f"more than {self._max_rows:,} rows in one file",
                        [FieldProblem("body", f"at most {self._max_rows:,} rows; send the rest",
                                      line)],
                    )  # fmt: skip
                count += 1
                yield _row(line, cells, self.header, self._rulebook)
        except csv.Error as exc:
            raise _unreadable(reader.line_num, exc) from None
        except UnicodeDecodeError as exc:
            raise not_utf8(exc, reader.line_num + 1) from None


def _decoded(data: bytes) -> str:
    body = data.removeprefix(BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(exc, body.count(b"\n", 0, exc.start) + 1) from None


def not_utf8(exc: UnicodeDecodeError, line: int) -> InvalidInput:
    return InvalidInput(
        "the file is not UTF-8",
        [
            FieldProblem(
                "body",
                f"byte 0x{exc.object[exc.start]:02x} is not UTF-8: save the file as UTF-8 "
                "(CSV UTF-8 in a spreadsheet)",
                line,
            )
        ],
    )


def _unreadable(line: int, exc: csv.Error) -> InvalidInput:
    return InvalidInput("the file is not valid CSV", [FieldProblem("body", str(exc), line)])


def _check_header(header: list[str], rulebook: RuleBook) -> None:
    known = [column.name for column in template_columns(rulebook)]
    problems = [
        FieldProblem(name or f"column {index + 1}", "not a column of this contract's file", 1)
        for index, name in enumerate(header)
        if name not in known
    ]
    problems += [
        FieldProblem(name, "appears twice in the header", 1)
        for name in sorted({n for n in header if header.count(n) > 1})
    ]
    problems += [
        FieldProblem(name, "a required column is missing from the header", 1)
        for name in FIXED_COLUMNS
        if name not in header
    ]
    if problems:
        columns = ", ".join(known)
        raise InvalidInput(f"the header does not fit this contract (columns: {columns})", problems)


def _row(line: int, cells: list[str], header: list[str], rulebook: RuleBook) -> Row:
    row = Row(line, cells)
    if len(cells) != len(header):
        row.problems.append(
            FieldProblem("body", f"{len(cells)} cells where the header has {len(header)}", line)
        )
        return row
    values = dict(zip(header, (cell.strip() for cell in cells), strict=True))
    for name, value in values.items():
        if len(value) > MAX_CELL_CHARS:
            row.problems.append(FieldProblem(name, f"over {MAX_CELL_CHARS:,} characters", line))
    if row.problems:
        return row
    try:  # the fixed columns, by the JSON body's own schema (ids, reference, type, date)
        fixed = EventIn.model_validate({name: values[name] for name in FIXED_COLUMNS})
    except ValidationError as invalid:
        row.problems += [
            FieldProblem(str(error["loc"][0]), str(error["msg"]), line)
            for error in invalid.errors()
        ]
        return row
    spec = rulebook.event_types.get(values["type"])
    attributes: dict[str, Any] = {}
    for name, value in values.items():
        if name in FIXED_COLUMNS or not value:
            continue
        attribute = spec.attributes.get(name) if spec is not None else None
        if spec is not None and attribute is None:
            row.problems.append(
                FieldProblem(name, f"{values['type']!r} events have no attribute {name!r}", line)
            )
            continue
        attributes[name] = _typed(attribute, value)
    row.event = IncomingEvent(
        fixed.event_id, fixed.participant_ref, fixed.type, fixed.occurred_on, attributes
    )
    return row


def _typed(spec: AttributeSpec | None, cell: str) -> Any:
    """A cell as the JSON value intake expects; intake's own checks then name what is wrong."""
    if spec is None:
        return cell
    if spec.type is AttributeType.INTEGER and INTEGER.match(cell):
        return int(cell)
    if spec.type is AttributeType.BOOLEAN and cell.lower() in BOOLEANS:
        return BOOLEANS[cell.lower()]
    return cell


class EventImport:
    """Checks a read file against the contract and its recorded events, then records it."""

    def __init__(self, receipts: Receipts, intake: Intake) -> None:
        self._receipts = receipts
        self._intake = intake

    def check(
        self, check: ImportCheck, rulebook: RuleBook, provider_id: str, today: dt.date
    ) -> None:
        """Adds each row's problems: its cells against its event type (intake's own check),
        an event id twice in the file, or recorded before with another body."""
        first_line: dict[str, int] = {}
        for row in check.rows:
            if row.event is None or row.problems:
                continue
            try:
                check_events(rulebook, [row.event], "provider", today)
            except EventRejected as rejected:
                row.problems += [_on_line(p, row.line) for p in rejected.problems]
                continue
            except OutcomesError as refused:  # an evaluator's event type, say
                row.problems.append(FieldProblem("type", refused.detail, row.line))
                continue
            event_id = row.event.event_id
            if event_id in first_line:
                row.problems.append(
                    FieldProblem("event_id", f"also on line {first_line[event_id]}", row.line)
                )
            first_line.setdefault(event_id, row.line)
        self._check_recorded(check, rulebook.contract_id, provider_id)

    def _check_recorded(self, check: ImportCheck, contract_id: str, provider_id: str) -> None:
        rows = {
            receipt_id(contract_id, provider_id, row.event.event_id): row
            for row in check.rows
            if row.event is not None and not row.problems
        }
        for start in range(0, len(rows), BATCH_ROWS):
            ids = list(rows)[start : start + BATCH_ROWS]
            for key, receipt in self._receipts.find(ids).items():
                row = rows[key]
                assert row.event is not None
                if receipt.body_sha256 != row.event.body_sha256():
                    row.problems.append(
                        FieldProblem(
                            "event_id",
                            "recorded before with another body: correct it with "
                            f"POST …/events/{row.event.event_id}/correct",
                            row.line,
                        )
                    )

    def record(
        self, check: ImportCheck, contract_id: str, provider_id: str, actor: str
    ) -> ImportResult:
        """Record the good rows in batches (each batch one transaction)."""
        good = [row.event for row in check.rows if row.event is not None and not row.problems]
        totals = ImportResult(len(check.rows), 0, 0, len(check.bad), 0, 0)
        for batch in in_batches(good):
            totals = totals.plus(self.record_batch(batch, contract_id, provider_id, actor))
        return totals

    def record_batch(
        self, events: list[IncomingEvent], contract_id: str, provider_id: str, actor: str
    ) -> ImportResult:
        """Record checked events in one transaction; what they did, counted."""
        recorded = replayed = derived = retired = 0
        for result in self._intake.record_events(contract_id, provider_id, events, actor):
            recorded += result.created
            replayed += not result.created
            if result.created:
                derived += len(result.claim_ids)
                retired += len(result.retired_claim_ids)
        return ImportResult(0, recorded, replayed, 0, derived, retired)


def _on_line(problem: FieldProblem, line: int) -> FieldProblem:
    """Intake's problem (``attributes.hours``) as the file's column (``hours``) and line."""
    return FieldProblem(problem.field.removeprefix("attributes."), problem.message, line)


def in_batches(items: Iterable[T], size: int = BATCH_ROWS) -> Iterator[list[T]]:
    """The items a batch of ``size`` at a time (the last one shorter), read as they come."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def rejected_csv(check: ImportCheck) -> str:
    """The bad rows as they came, with their line and problems first, to fix and send again."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["line", "problems", *check.header])
    for row in check.bad:
        problems = "; ".join(f"{p.field}: {p.message}" for p in row.problems)
        writer.writerow([row.line, problems, *row.cells])
    return buffer.getvalue()
