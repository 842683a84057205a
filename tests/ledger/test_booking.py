"""The booking rules on a book in memory: caps, reversals, netting, remittances, periods.

The property test drives random streams and checks the books after every step.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ledger.booking import RemittanceLine, accrue, remit, reverse
from services.ledger.domain import Book, LedgerRuleError, PeriodAlreadyClosed
from shared.feed.accounts import CAPPED_OFFSET, OUTCOME_PAYMENTS, PAID
from shared.feed.catalogue import Booking
from shared.feed.views import Terms
from shared.rules.caps import caps_of

CAPS = [
    {"id": "total", "scope": "contract", "amount": "100.00"},
    {"id": "starts", "scope": "outcome", "outcome": "job_start", "amount": "60.00"},
    {"id": "monthly", "scope": "period", "period": "month", "amount": "50.00"},
    {"id": "person", "scope": "participant", "amount": "30.00"},
]


def facts(
    amount: int,
    outcome: str = "job_start",
    participant: str = "p1",
    day: str = "2026-04-10",
    provider: str = "prov",
    currency: str = "GBP",
) -> Booking:
    return Booking(
        contract_id="c",
        provider_id=provider,
        participant_id=participant,
        outcome_id=outcome,
        occurred_on=day,
        amount_minor=amount,
        currency=currency,
    )


def terms(document: dict[str, Any]) -> Terms:
    """A rule book's terms as the ledger reads them from the feed."""
    return Terms.model_validate(
        {"contract_id": "c", "currency": "GBP", "providers": [], **document}
    )


def payable(book: Book, provider: str = "prov") -> int:
    return -book.balances.get(f"payable:{provider}", 0)


def test_a_claim_under_every_cap_is_accrued_whole() -> None:
    book = Book("c", "GBP", CAPS, ["prov"])
    accrue(book, "a", facts(2_000), "2026-04")
    assert book.lines["a"]["accrued"] == 2_000 and book.lines["a"]["capped"] == 0
    assert book.balances[OUTCOME_PAYMENTS] == 2_000 and payable(book) == 2_000


def test_the_part_over_the_tightest_cap_goes_to_memo_naming_it() -> None:
    book = Book("c", "GBP", CAPS, ["prov"])
    accrue(book, "a", facts(2_500, participant="p1"), "2026-04")
    accrue(book, "b", facts(1_000, participant="p1"), "2026-04")  # person cap 30.00: 500 left
    line = book.lines["b"]
    assert (line["accrued"], line["capped"], line["cap_id"]) == (500, 500, "person")
    assert book.balances["memo:capped:person"] == 500 and book.balances[CAPPED_OFFSET] == -500
    accrue(book, "c", facts(1_000, participant="p1"), "2026-04")
    assert (book.lines["c"]["accrued"], book.lines["c"]["capped"]) == (0, 1_000)


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        # outcome cap 60.00 binds across participants
        (
            [
                ("a", 3_000, "job_start", "p1", "2026-04-01"),
                ("b", 3_000, "job_start", "p2", "2026-05-01"),
                ("c", 1_000, "job_start", "p3", "2026-06-01"),
            ],
            ("c", 0, "starts"),
        ),
        # monthly cap 50.00 binds within a month only
        (
            [
                ("a", 3_000, "engagement", "p1", "2026-04-01"),
                ("b", 3_000, "engagement", "p2", "2026-04-02"),
            ],
            ("b", 2_000, "monthly"),
        ),
        # the contract total binds last
        (
            [(f"x{i}", 2_500, "engagement", f"p{i}", f"2026-0{i + 1}-01") for i in range(5)],
            ("x4", 0, "total"),
        ),
    ],
)
def test_each_kind_of_cap(
    claims: list[tuple[str, int, str, str, str]], expected: tuple[str, int, str]
) -> None:
    book = Book("c", "GBP", CAPS, ["prov"])
    for claim_id, amount, outcome, participant, day in claims:
        accrue(book, claim_id, facts(amount, outcome, participant, day), "2026-07")
    claim_id, accrued, cap = expected
    assert (book.lines[claim_id]["accrued"], book.lines[claim_id]["cap_id"]) == (accrued, cap)


def test_reversing_an_unpaid_claim_reduces_the_payable_and_frees_the_cap() -> None:
    book = Book("c", "GBP", CAPS, ["prov"])
    accrue(book, "a", facts(2_000), "2026-04")
    reverse(book, "a", "2026-04")
    assert payable(book) == 0 and book.balances[OUTCOME_PAYMENTS] == 0
    assert book.usage()["person#p1"] == 0 and book.participant_usage == {"person#p1": 0}
    reverse(book, "a", "2026-04")  # a second request changes nothing
    assert book.transaction_count == 2


def test_reversing_a_paid_claim_creates_a_receivable_netted_against_the_next_payable() -> None:
    book = Book("c", "GBP", [], ["prov"])
    accrue(book, "a", facts(5_000), "2026-04")
    remit(book, "r1", [RemittanceLine("a", 5_000)], "2026-04")
    reverse(book, "a", "2026-05")
    assert book.balances["recoverable:prov"] == 5_000 and payable(book) == 0
    accrue(book, "b", facts(3_000, participant="p2"), "2026-05")
    assert book.balances["recoverable:prov"] == 2_000 and payable(book) == 0
    assert book.lines["b"]["netted"] == 3_000 and book.outstanding("b") == 0
    accrue(book, "c", facts(4_000, participant="p3"), "2026-05")
    assert book.balances.get("recoverable:prov", 0) == 0 and payable(book) == 2_000
    assert book.receivables["prov"] == []


def test_paying_more_than_is_payable_records_an_overpayment() -> None:
    book = Book("c", "GBP", [], ["prov"])
    accrue(book, "a", facts(1_000), "2026-04")
    [result] = remit(book, "r1", [RemittanceLine("a", 1_500)], "2026-04")
    assert result == {"payable_id": "a", "applied_minor": 1_000, "overpaid_minor": 500}
    assert book.balances["recoverable:prov"] == 500 and book.balances[PAID] == -1_500


def test_a_remittance_with_any_bad_line_posts_nothing() -> None:
    book = Book("c", "GBP", [], ["prov"])
    accrue(book, "a", facts(1_000), "2026-04")
    count = book.transaction_count
    for lines in (
        [RemittanceLine("a", 500), RemittanceLine("zzz", 1)],
        [RemittanceLine("a", 0)],
        [RemittanceLine("a", -5)],
    ):
        with pytest.raises(LedgerRuleError):
            remit(book, "r", lines, "2026-04")
    assert book.transaction_count == count


def test_a_claim_in_another_currency_is_refused() -> None:
    book = Book("c", "GBP", [], ["prov"])
    with pytest.raises(LedgerRuleError):
        accrue(book, "a", facts(100, currency="USD"), "2026-04")
    assert book.transaction_count == 0


def test_postings_after_a_close_land_in_the_next_open_period_and_say_what_they_correct() -> None:
    book = Book("c", "GBP", [], ["prov"])
    book.close_period("2026-04", "admin:a")
    with pytest.raises(PeriodAlreadyClosed):
        book.close_period("2026-04", "admin:a")
    accrue(book, "late", facts(700, day="2026-04-20"), "2026-04")
    [correction] = [e for e in book.collect_events() if getattr(e, "kind", None) == "accrual"]
    assert (correction.booked_period, correction.corrects_period) == ("2026-05", "2026-04")
    assert correction.claim_id == "late"
    assert book.period_totals["2026-05"]["prov"]["accrued"] == 700


@pytest.mark.parametrize(
    ("currency", "amount"), [("GBP", 250_000), ("USD", 12_000), ("AFN", 21_066)]
)
def test_each_book_keeps_its_own_currency(currency: str, amount: int) -> None:
    book = Book("c", currency, [], ["prov"])
    accrue(book, "a", facts(amount, currency=currency), "2026-04")
    assert book.currency == currency and payable(book) == amount


STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("verify"),
            st.integers(1, 4_000),
            st.sampled_from(["job_start", "engagement"]),
            st.integers(0, 3),
            st.integers(4, 7),
        ),
        st.tuples(st.just("reverse"), st.integers(0, 30)),
        st.tuples(st.just("remit"), st.integers(0, 30), st.integers(1, 5_000)),
        st.tuples(st.just("close"), st.integers(4, 7)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_random_streams_keep_the_books_balanced_and_complete(steps: list[tuple[Any, ...]]) -> None:
    book = Book("c", "GBP", CAPS, ["prov"])
    verified: list[str] = []
    for index, step in enumerate(steps):
        if step[0] == "verify":
            _, amount, outcome, person, month = step
            claim_id = f"c{index}"
            accrue(
                book, claim_id, facts(amount, outcome, f"p{person}", f"2026-0{month}-15"), "2026-07"
            )
            verified.append(claim_id)
        elif step[0] == "reverse" and verified:
            reverse(book, verified[step[1] % len(verified)], "2026-07")
        elif step[0] == "remit" and verified:
            remit(
                book,
                f"r{index}",
                [RemittanceLine(verified[step[1] % len(verified)], step[2])],
                "2026-07",
            )
        elif step[0] == "close" and f"2026-0{step[1]}" not in book.closed_periods:
            book.close_period(f"2026-0{step[1]}", "admin:a")
        _check_books(book)


def _check_books(book: Book) -> None:
    for domain_event in book.collect_events():
        entries = getattr(domain_event, "entries", None)
        if entries is not None:
            assert sum(e["amount_minor"] for e in entries) == 0
    assert sum(book.balances.values()) == 0
    lines = book.lines.values()
    net_of_caps_and_reversals = sum(line["accrued"] for line in lines if not line["reversed"])
    recoverable = sum(v for k, v in book.balances.items() if k.startswith("recoverable:"))
    assert payable(book) + -book.balances.get(PAID, 0) - recoverable == net_of_caps_and_reversals
    assert book.balances.get(OUTCOME_PAYMENTS, 0) == net_of_caps_and_reversals
    capped = sum(line["capped"] for line in lines if not line["reversed"])
    assert book.balances.get(CAPPED_OFFSET, 0) == -capped
    assert all(book.outstanding(claim_id) >= 0 for claim_id in book.lines)
    assert all(
        recoverable_left >= 0
        for queue in book.receivables.values()
        for _, recoverable_left in queue
    )


def test_a_quarterly_cap_uses_the_contracts_reporting_year() -> None:
    """Reporting years from April: 31 March and 1 April are in different quarters (2025-Q4 and
    2026-Q1), while 1 January and 31 March share one."""
    rulebook = {
        "calendar": {"year_starts": 4},
        "caps": [{"id": "quarterly", "scope": "period", "period": "quarter", "amount": "50.00"}],
    }
    book = Book("c", "GBP", caps_of(terms(rulebook)), ["prov"])
    accrue(book, "jan", facts(3_000, participant="p1", day="2026-01-05"), "2026-04")
    accrue(book, "mar", facts(3_000, participant="p2", day="2026-03-31"), "2026-04")
    accrue(book, "apr", facts(3_000, participant="p3", day="2026-04-01"), "2026-04")
    # January and March share 2025-Q4's 50.00: March gets 20.00; April starts 2026-Q1 afresh
    assert [book.lines[c]["accrued"] for c in ("jan", "mar", "apr")] == [3_000, 2_000, 3_000]
    assert (
        caps_of(terms({"caps": rulebook["caps"]})) == rulebook["caps"]
    )  # January: kept as written
