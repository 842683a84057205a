"""The portfolio: one line per contract a caller may see, from each contract's own reports.

A line is read from the same reports a contract's pack shows, for the current month, so the
two never disagree: participants (the funnel's first stage, contract to date), outcomes (claims
the ledger booked, less those reversed), money (the money report's ``*`` row: accrued, paid,
held back by caps, unpaid) and the main target (the rule book's first whole-contract target
series, in its period holding today: target, actual, % of target).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from html import escape
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.metrics.application import Reporter, ReportRequest
from services.metrics.dashboard import META_POLICY, STYLE, figure
from services.metrics.readmodels.tables import outcome_money, rulebooks

SECTIONS = ["funnel", "money", "targets"]
COLUMNS = [
    "contract_id", "name", "currency", "month", "participants", "outcomes", "accrued", "paid",
    "capped", "unpaid", "target_id", "target_period", "target", "actual", "percent_of_target",
]  # fmt: skip


@dataclass(frozen=True)
class PortfolioLine:
    contract_id: str
    name: str
    currency: str
    month: str
    participants: int
    outcomes: int
    accrued: str | None
    paid: str | None
    capped: str | None
    unpaid: str | None
    target_id: str | None
    target_period: str | None
    target: Any
    actual: Any
    percent_of_target: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def contract_ids(engine: Engine, after: str | None, limit: int) -> list[str]:
    """Every contract metrics holds a rule book of, by id, after ``after``."""
    query = sa.select(rulebooks.c.contract_id).distinct().order_by(rulebooks.c.contract_id)
    if after is not None:
        query = query.where(rulebooks.c.contract_id > after)
    with engine.connect() as connection:
        return [str(row[0]) for row in connection.execute(query.limit(limit))]


def outcomes_booked(engine: Engine, contract_id: str) -> int:
    with engine.connect() as connection:
        total = connection.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(outcome_money.c.claims), 0)).where(
                outcome_money.c.contract_id == contract_id
            )
        )
    return int(total or 0)


def line(reporter: Reporter, engine: Engine, contract_id: str) -> PortfolioLine:
    report = reporter.report(ReportRequest(contract_id), SECTIONS)
    funnel = report.sections["funnel"]
    money = next((row for row in report.sections["money"] if row["provider_id"] == "*"), {})
    main = next(
        (row for row in report.sections["targets"] if row["group"] is None and row["current"]),
        {},
    )
    return PortfolioLine(
        contract_id=contract_id,
        name=report.contract_name,
        currency=str(money.get("currency") or ""),
        month=report.month,
        participants=int(funnel[0]["contract_to_date"]) if funnel else 0,
        outcomes=outcomes_booked(engine, contract_id),
        accrued=money.get("accrued"),
        paid=money.get("paid"),
        capped=money.get("capped"),
        unpaid=money.get("unpaid"),
        target_id=main.get("target_id"),
        target_period=main.get("period"),
        target=main.get("target"),
        actual=main.get("actual"),
        percent_of_target=main.get("percent_of_target"),
    )


def render(lines: Iterable[PortfolioLine], generated_at: dt.datetime) -> str:
    """The portfolio as one HTML page in the dashboard's style (no script, nothing fetched)."""
    headers = "".join(f"<th>{escape(name)}</th>" for name in COLUMNS)
    body = []
    for item in lines:
        cells = "".join(
            f"<td>{figure('portfolio', item.contract_id, name, value)}</td>"
            for name, value in item.as_dict().items()
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"{META_POLICY}<title>Portfolio</title><style>{STYLE}</style></head><body>"
        f'<h1>Portfolio</h1><div class="meta">{len(body)} contracts, as of '
        f"{escape(generated_at.isoformat(timespec='seconds'))}; money in each contract's "
        "currency, as the reports give it</div>"
        f'<section class="wide"><table><thead><tr>{headers}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></section></body></html>"
    )
