"""The performance dashboard: one self-contained HTML page, drawn on the server.

Charts are inline SVG and styles inline CSS: the page loads nothing else and runs no script,
so it can be saved and opened anywhere as the meeting pack (``outcomes dashboard``). Every
figure carries ``data-figure="<report>|<row key>|<field>"``, and tests read those back in a
browser and compare them with the JSON reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from html import escape
from typing import Any

from services.metrics.application import Report
from services.metrics.reports import ReportSpec, Row
from services.metrics.reports.registry import registered
from shared.periods import Period, first_day

BAR_WIDTH = 420
WIDE_COLUMNS = 6  # a plain table with more columns spans the page's width
CHART_WIDTH = 150 + BAR_WIDTH + 110  # labels, bars, and the widest value beside a bar
RAG_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", "grey": "#9e9e9e"}
STYLE = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#1b1b1b;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px}
h3{font-size:14px;margin:8px 0 2px}
.meta{color:#555;font-size:13px;margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:14px}
.wide{grid-column:1/-1}
table{border-collapse:collapse;font-size:13px;width:100%;margin-top:8px}
th,td{border-bottom:1px solid #eee;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
.rag{color:#fff;border-radius:3px;padding:1px 6px;font-weight:bold}
svg{max-width:680px;display:block}
svg text{font-size:12px;font-family:DejaVu Sans,Arial,sans-serif}
@page{size:A4 landscape;margin:12mm}
@media print{body{background:#fff;margin:0}.grid{display:block}
section{break-inside:avoid;border:none;padding:0 4px 10px;margin:0 0 10px}
table{font-size:11px}}
"""
# the page's own policy, so a saved copy (or its PDF) runs and fetches nothing either
META_POLICY = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
)


def figure(report: str, key: str, field: str, value: Any, *, breakable: bool = False) -> str:
    text = "—" if value is None else str(value)
    shown = escape(text)
    if breakable:  # long identifiers may wrap after _ and .. (<wbr> adds no text)
        shown = shown.replace("_", "_<wbr>").replace("..", "..<wbr>")
    return f'<span data-figure="{escape(f"{report}|{key}|{field}")}">{shown}</span>'


def render(report: Report) -> str:
    contract_name = report.contract_name
    sections = report.sections
    request = report.request
    filters = ", ".join(
        f"{name} {value}"
        for name, value in request.filters.described().items()
        if value is not None
    )
    known = request.as_known_at.isoformat() if request.as_known_at else "now"
    specs = registered()
    parts = [
        _drawn(spec, sections[name])
        for name, spec in specs.items()
        if spec.dashboard and name in sections
    ]
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>{META_POLICY}"
        f"<title>{escape(contract_name)}: performance {escape(report.month)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{escape(contract_name)}</h1>"
        f"<div class=meta>Month <b id=month>{escape(report.month)}</b> · as known at "
        f"{escape(known)} · the state at {_state_day(report).isoformat()}"
        f"{' · ' + escape(filters) if filters else ''}</div>"
        f"<div class=grid>{''.join(parts)}</div></body></html>"
    )


def _state_day(report: Report) -> dt.date:
    """The day the month's figures stand at: its last day, or the reference day if earlier."""
    month_end = Period.MONTH.bounds(first_day(report.month))[1]
    return min(month_end, report.reference_date)


def _drawn(spec: ReportSpec, rows: list[Row]) -> str:
    """A report's own section where it has one, else a plain table of its columns."""
    own = SECTIONS.get(spec.name)
    return own(rows) if own is not None else _plain(spec.name, spec.columns, rows)


def _plain(name: str, columns: tuple[str, ...], rows: list[Row]) -> str:
    table = _table(
        [column.replace("_", " ") for column in columns],
        [
            [figure(name, str(index), c, row.get(c), breakable=True) for c in columns]
            for index, row in enumerate(rows)
        ],
    )
    wide = len(columns) > WIDE_COLUMNS  # a long row takes the whole width, never overflows
    return _section(name, name.replace("_", " ").capitalize(), table, wide=wide)


# ---- pieces ------------------------------------------------------------------------------------
def _section(section_id: str, title: str, *body: str, wide: bool = False) -> str:
    kind = " class=wide" if wide else ""
    return f'<section id="{section_id}"{kind}><h2>{escape(title)}</h2>{"".join(body)}</section>'


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bars(
    report: str,
    items: Sequence[tuple[str, Decimal | int | None, str]],
    unit: str = "",
    marks: dict[str, int] | None = None,
) -> str:
    """Horizontal bars: (label, value, key) each; the value is printed beside its bar, and a
    mark (a target) is drawn as a dark tick where the item has one."""
    marks = marks or {}
    values = [Decimal(v) for _, v, _ in items if v is not None]
    values += [Decimal(m) for m in marks.values()]
    top = max([*values, Decimal(1)])
    height = 24 * len(items) + 8
    rows = []
    for index, (label, value, key) in enumerate(items):
        y = 8 + index * 24
        width = int(Decimal(value or 0) / top * BAR_WIDTH) if value is not None else 0
        shown = "—" if value is None else f"{value}{unit}"
        tag = escape(f"chart:{report}|{key}")
        rows.append(
            f'<text x="0" y="{y + 13}">{escape(label)}</text>'
            f'<rect class="bar" x="150" y="{y}" width="{width}" height="16" fill="#1565c0"/>'
            + _mark(marks.get(key), top, y)
            + f'<text x="{156 + width}" y="{y + 13}" data-figure="{tag}">'
            f"{escape(shown)}</text>"
        )
    # drawn at CHART_WIDTH and scaled to the section's width, labels and all
    return (
        f'<svg role="img" aria-label="{escape(report)} chart" viewBox="0 0 {CHART_WIDTH} '
        f'{height}" width="100%" preserveAspectRatio="xMinYMin meet">{"".join(rows)}</svg>'
    )


def _mark(value: int | None, top: Decimal, y: int) -> str:
    if value is None:
        return ""
    x = 150 + int(Decimal(value) / top * BAR_WIDTH)
    return f'<rect class="mark" x="{x - 1}" y="{y - 3}" width="3" height="22" fill="#111"/>'


def _funnel(rows: list[Row]) -> str:
    chart = _bars("funnel", [(r["stage"], r["contract_to_date"], r["stage"]) for r in rows])
    fields = ("month", "quarter_to_date", "year_to_date", "contract_to_date")
    table = _table(
        ("stage", "month", "quarter", "year", "contract"),
        (
            [escape(r["stage"])] + [figure("funnel", r["stage"], f, r[f]) for f in fields]
            for r in rows
        ),
    )
    return _section("funnel", "Participants per stage", chart, table)


def _targets(rows: list[Row]) -> str:
    if not rows:
        return _section("targets", "Against targets", "<p>No target series declared.</p>")
    items = [(f"{_series(r)} {r['period']}", r["actual"], _target_key(r)) for r in rows]
    fields = (
        "target", "actual", "percent_of_target", "difference", "against_prior", "against_average"
    )  # fmt: skip
    table = _table(
        ("series", "period", "target", "actual", "%", "±", "vs prior", "vs 3-period average"),
        (
            [escape(r["name"] + (f" ({r['group']})" if r["group"] else "")), escape(r["period"])]
            + [figure("targets", _target_key(r), f, r[f]) for f in fields]
            for r in rows
        ),
    )
    marks = {_target_key(r): r["target"] for r in rows}
    chart = _bars("targets", items, marks=marks)
    note = "<p class=meta>Bars: actual. Black ticks: target.</p>"
    return _section("targets", "Against targets", chart, note, table)


def _trends(rows: list[Row]) -> str:
    """Each stage period by period: the actual of its first target series of that period (bars)
    and that series' target (ticks), or the participants who reached it where it has none."""
    charts = []
    for stage in dict.fromkeys(r["stage"] for r in rows):
        mine = [r for r in rows if r["stage"] == stage]
        first = mine[0]["target_id"]
        shown = [r for r in mine if r["target_id"] == first]
        items = [(r["period"], r["actual"], f"{stage}/{r['month']}") for r in shown]
        marks = {f"{stage}/{r['month']}": r["target"] for r in shown if r["target"] is not None}
        charts.append(f"<h3>{escape(stage)}</h3>" + _bars("trends", items, marks=marks))
    note = "<p class=meta>Per period: bars, the actual; black ticks, the target.</p>"
    return _section("trends", "Period by period", note, *charts)


def _series(row: Row) -> str:
    return f"{row['target_id']}/{row['group']}" if row["group"] else str(row["target_id"])


def _target_key(row: Row) -> str:
    """A target row's key in the page: series, group (when per site or provider), period."""
    return f"{_series(row)}/{row['period']}"


def _kpis(rows: list[Row]) -> str:
    if not rows:
        return _section("kpis", "KPIs and performance levels", "<p>No KPI declared.</p>")

    def rag(row: Row) -> str:
        colour = RAG_COLOURS[row["rag"]]
        key = f"{row['kpi_id']}/{row['period']}"
        shown = figure("kpis", key, "rag", row["rag"])
        return f'<span class=rag style="background:{colour}">{shown}</span>'

    fields = ("due", "met", "pending", "percent", "level")
    table = _table(
        ("KPI", "period", "due", "met", "pending", "%", "level", "RAG"),
        (
            [escape(r["name"]), escape(r["period"])]
            + [figure("kpis", f"{r['kpi_id']}/{r['period']}", f, r[f]) for f in fields]
            + [rag(r)]
            for r in rows
        ),
    )
    return _section("kpis", "KPIs and performance levels", table)


def _ranking(rows: list[Row]) -> str:
    items = [
        (f"{r['rank']}. {r['provider_name']}", _decimal(r["score_percent"]), r["provider_id"])
        for r in rows
    ]
    fields = ("rank", "score_percent", "from_participants", "to_participants")
    table = _table(
        ("provider", "rank", "score %", "from", "to"),
        (
            [escape(r["provider_name"])]
            + [figure("ranking", r["provider_id"], f, r[f]) for f in fields]
            for r in rows
        ),
    )
    title = f"Providers ranked on {rows[0]['score']}" if rows else "Providers"
    return _section("ranking", title, _bars("ranking", items, "%"), table)


def _conversion(rows: list[Row]) -> str:
    table = _table(
        ("from → to", "from", "to", "rate %"),
        (
            [escape(f"{r['from_stage']} → {r['to_stage']}")]
            + [
                figure("conversion", f"{r['from_stage']}>{r['to_stage']}", f, r[f])
                for f in ("from_participants", "to_participants", "rate_percent")
            ]
            for r in rows
        ),
    )
    return _section("conversion", "Conversion", table)


def _need_groups(rows: list[Row]) -> str:
    if not rows:
        return _section("need_groups", "By need and barrier", "<p>No flags declared.</p>")
    table = _table(
        ("group", "stage", "participants", "% of first stage"),
        (
            [escape(f"{r['attribute']} = {r['value']}"), escape(r["stage"])]
            + [
                figure("need_groups", f"{r['attribute']}={r['value']}/{r['stage']}", f, r[f])
                for f in ("participants", "share_of_first_stage_percent")
            ]
            for r in rows
        ),
    )
    return _section("need_groups", "By need and barrier (creaming shows here)", table)


def _money(rows: list[Row]) -> str:
    total = rows[-1]
    items = [
        (name, _decimal(total[name]), f"*/{name}")
        for name in ("budget", "accrued", "paid", "capped")
    ]
    fields = (
        "accrued_month",
        "paid_month",
        "accrued",
        "paid",
        "capped",
        "unpaid",
        "accrued_percent_of_budget",
    )
    table = _table(
        (
            "provider",
            "accrued in the month",
            "paid in the month",
            "accrued to date",
            "paid to date",
            "capped",
            "unpaid",
            "% of budget",
        ),
        (
            [escape(r["provider_name"])]
            + [figure("money", r["provider_id"], f, r[f]) for f in fields]
            for r in rows
        ),
    )
    title = f"Money ({total['currency']})"
    return _section("money", title, _bars("money", items), table)


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


# the reports with a section of their own; any other report the registry puts on the dashboard
# is drawn as a plain table
SECTIONS: dict[str, Callable[[list[Row]], str]] = {
    "funnel": _funnel,
    "targets": _targets,
    "kpis": _kpis,
    "ranking": _ranking,
    "conversion": _conversion,
    "need_groups": _need_groups,
    "money": _money,
    "trends": _trends,
}
