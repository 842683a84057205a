"""The XLSX writer: figures as numbers, text as text (never a formula), one sheet per table."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import load_workbook

from shared.xlsxout import Sheet, workbook_bytes


def test_figures_are_numbers_and_text_stays_text() -> None:
    rows = [
        {"name": "=HYPERLINK(\"http://x\")", "n": 3, "money": "500.00", "share": "37.5",
         "period": "2026-03", "year": "2026", "ok": True, "missing": None},
        {"name": "-5", "n": -1, "money": "-0.50", "share": None,
         "period": "2026-Q1", "year": "2025", "ok": False, "missing": None},
    ]  # fmt: skip
    columns = ("name", "n", "money", "share", "period", "year", "ok", "missing")
    data = workbook_bytes([Sheet("report", columns, rows), Sheet("empty", ("a", "b"), [])])
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["report", "empty"]
    sheet = book["report"]
    assert [c.value for c in sheet[1]] == list(columns)
    first = [c.value for c in sheet[2]]
    assert first == ['=HYPERLINK("http://x")', 3, Decimal("500.00"), Decimal("37.5"), "2026-03",
                     "2026", True, None]  # fmt: skip
    assert sheet["A2"].data_type == "s"  # not a formula
    assert [sheet[f"{c}2"].data_type for c in "BCD"] == ["n", "n", "n"]
    assert [sheet[f"{c}2"].data_type for c in "EF"] == ["s", "s"]  # labels stay text
    assert (sheet["C2"].number_format, sheet["D2"].number_format) == ("0.00", "0.0")
    assert [c.value for c in sheet[3]][:4] == ["-5", -1, Decimal("-0.50"), None]
    assert [c.value for c in book["empty"][1]] == ["a", "b"]
    assert book["empty"].max_row == 1


def test_sheet_titles_are_cut_to_excels_limit() -> None:
    data = workbook_bytes([Sheet("x" * 40, ("a",), [{"a": 1}])])
    assert load_workbook(io.BytesIO(data)).sheetnames == ["x" * 31]
