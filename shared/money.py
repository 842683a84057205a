"""Money: Decimal in code, integer minor units plus currency at rest, strings in JSON."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

# ISO 4217 minor units of the currencies contracts may use. Extend deliberately, never guess.
MINOR_UNIT_EXPONENTS: dict[str, int] = {"GBP": 2, "USD": 2, "EUR": 2, "AFN": 2, "KES": 2}
MAX_AMOUNT_MINOR = 10**15


class Rounding(StrEnum):
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    DOWN = "down"

    @property
    def decimal_mode(self) -> str:
        return {
            Rounding.HALF_UP: ROUND_HALF_UP,
            Rounding.HALF_EVEN: ROUND_HALF_EVEN,
            Rounding.DOWN: ROUND_DOWN,
        }[self]


class MoneyError(ValueError):
    pass


def exponent_of(currency: str) -> int:
    try:
        return MINOR_UNIT_EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


def parse_decimal(text: str) -> Decimal:
    """Parse a decimal amount written as a string; floats are refused by the callers' types."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise MoneyError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not a finite number")
    return value


def to_minor(amount: Decimal, currency: str, rounding: Rounding) -> int:
    """Round once, by the declared rule, to the currency's minor unit."""
    quantum = Decimal(1).scaleb(-exponent_of(currency))
    rounded = amount.quantize(quantum, rounding=rounding.decimal_mode)
    minor = int(rounded.scaleb(exponent_of(currency)))
    if abs(minor) > MAX_AMOUNT_MINOR:
        raise MoneyError(f"amount {amount} is out of range")
    return minor


def exact_minor(text: str, currency: str) -> int:
    """A price written in major units with no more decimals than the currency has."""
    value = parse_decimal(text)
    exponent = exponent_of(currency)
    if value.as_tuple().exponent < -exponent:  # type: ignore[operator]
        raise MoneyError(f"{text} has more than {exponent} decimal places for {currency}")
    return to_minor(value, currency, Rounding.HALF_UP)


def format_minor(amount_minor: int, currency: str) -> str:
    """Minor units as a decimal string in major units, e.g. 123456 GBP -> '1234.56'."""
    return str(Decimal(amount_minor).scaleb(-exponent_of(currency)))
