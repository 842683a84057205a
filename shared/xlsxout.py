"""XLSX answers (``Accept`` the spreadsheet media type): a workbook with one sheet per table,
written with openpyxl.

Figures are numbers, never text: integers stay integers, and the decimal strings the JSON
carries for money, percentages and staff (``"500.00"``, ``"37.5"``) become exact decimal cells
with as many places as the text shows. Everything else is text, and text is never a formula
(a provider-supplied ``=HYPERLINK(…)`` stays the characters it was).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DECIMAL_TEXT = re.compile(r"^-?[0-9]{1,30}\.([0-9]{1,10})$")
MAX_SHEET_TITLE = 31  # Excel's limit


def wants_xlsx(accept: str) -> bool:
    return XLSX in accept


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[str]
    rows: Iterable[Mapping[str, Any]]


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """The sheets, in order, each with its columns as a bold first row."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for sheet in sheets:
        page = book.create_sheet(sheet.title[:MAX_SHEET_TITLE])
        page.append(list(sheet.columns))
        for cell in page[1]:
            cell.font = Font(bold=True)
        for number, row in enumerate(sheet.rows, start=2):
            for column, name in enumerate(sheet.columns, start=1):
                _write(page.cell(row=number, column=column), row.get(name))
        page.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _write(cell: Cell, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, int | Decimal):  # bool is an int: a boolean cell
        cell.value = value
    elif isinstance(value, str) and (found := DECIMAL_TEXT.match(value)):
        cell.value = Decimal(value)
        cell.number_format = "0." + "0" * len(found.group(1))
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        cell.value = text
        cell.data_type = "s"  # never a formula, whatever it starts with
