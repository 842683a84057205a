"""Live money reports read running totals per provider and ledger month; they must equal the
sums of the transaction rows that "as known at" reports read, however the feed is paged, and
the migration that adds them fills them from the rows already kept."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from services.metrics.application import money_known_at
from services.metrics.readmodels.cube import Filters
from services.metrics.readmodels.money import MoneyHandler
from services.metrics.readmodels.tables import money_totals
from shared.sqlviews import SqlSink
from tests.metrics.test_migrations import engine_at, upgrade
from tests.metrics.test_reports import CONTRACT, ledger_history
from tests.stores import migrated_engine

LATER = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # as known then: the sum of every row


@pytest.mark.parametrize("page", [1, 2, 4])
def test_live_totals_equal_the_sum_of_the_transactions(urls: dict[str, str], page: int) -> None:
    history = ledger_history()
    with migrated_engine(urls["metrics"], "metrics") as engine:
        sink = SqlSink(engine, "ledger", MoneyHandler())
        for start in range(0, len(history), page):
            sink.apply(history[start : start + page])
        with engine.connect() as connection:
            for wanted in (Filters(), Filters(provider_id="alpha"), Filters(provider_id="nobody")):
                live = money_known_at(connection, CONTRACT, wanted, None)
                assert live == money_known_at(connection, CONTRACT, wanted, LATER)
            everything = money_known_at(connection, CONTRACT, Filters(), None)
        assert {key: (f.outcome_minor, f.paid_minor, f.capped_minor)
                for key, f in everything.items()} == {
            ("alpha", "2026-03"): (50_000, 30_000, 10_000),
            ("beta", "2026-03"): (20_000, 0, 0),
        }  # fmt: skip


def test_the_migration_fills_the_totals_from_the_rows_kept(urls: dict[str, str]) -> None:
    with engine_at(urls["metrics"], "2026_11_30_0009") as engine:
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO mx_books VALUES ('book-1', :c)"), {"c": CONTRACT}
            )
            for position, (provider, outcome, paid) in enumerate(
                [("alpha", 100, 0), ("alpha", 50, 20), ("beta", 7, 7)], start=1
            ):
                connection.execute(
                    sa.text(
                        "INSERT INTO mx_money (position, contract_id, provider_id, kind, "
                        "outcome_minor, paid_minor, capped_minor, booked_period, recorded_at) "
                        "VALUES (:p, :c, :provider, 'accrual', :o, :paid, 0, '2026-03', :at)"
                    ),
                    {"p": position, "c": CONTRACT, "provider": provider, "o": outcome,
                     "paid": paid, "at": dt.datetime(2026, 3, 31, tzinfo=dt.UTC)},
                )  # fmt: skip
        upgrade(engine, "head")
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    money_totals.c.provider_id,
                    money_totals.c.outcome_minor,
                    money_totals.c.paid_minor,
                ).order_by(money_totals.c.provider_id)
            ).all()
        assert [tuple(row) for row in rows] == [("alpha", 150, 20), ("beta", 7, 7)]
