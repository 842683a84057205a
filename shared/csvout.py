"""CSV answers for list endpoints (``Accept: text/csv``): the same rows as the JSON, flat."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import Response

CSV = "text/csv"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(request: Request) -> bool:
    return CSV in request.headers.get("accept", "")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # a spreadsheet must never run a provider-supplied value as a formula
    if text.startswith(FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_response(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], next_after: int | str | None = None
) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    headers = {"X-Next-After": str(next_after)} if next_after is not None else {}
    return Response(buffer.getvalue(), media_type=f"{CSV}; charset=utf-8", headers=headers)
