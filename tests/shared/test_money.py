from __future__ import annotations

from decimal import Decimal

import pytest

from shared.money import MoneyError, Rounding, exact_minor, format_minor, to_minor


def test_exact_prices_become_minor_units() -> None:
    assert exact_minor("2500.00", "GBP") == 250_000
    assert exact_minor("0.5", "USD") == 50


def test_a_price_finer_than_the_currency_is_refused() -> None:
    with pytest.raises(MoneyError):
        exact_minor("1.005", "GBP")


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [(Rounding.HALF_UP, 3), (Rounding.HALF_EVEN, 2), (Rounding.DOWN, 2)],
)
def test_rounding_is_applied_once_by_the_declared_rule(rounding: Rounding, expected: int) -> None:
    assert to_minor(Decimal("0.025"), "GBP", rounding) == expected


def test_minor_units_format_as_major_unit_strings() -> None:
    assert format_minor(450_000, "GBP") == "4500.00"
    assert format_minor(-5, "USD") == "-0.05"
