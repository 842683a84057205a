"""Money: Decimal in code, integer minor units plus currency at rest, strings in JSON."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

# ISO 4217 minor units of the currencies contracts may use. Extend deliberately, never guess.
MINOR_UNIT_EXPONENTS: dict[str, int] = {"GBP": 2, "USD": 2, "EUR": 2, "AFN": 2, "KES": 2}
MAX_AMOUNT_MINOR = 10**15
MAX_DECIMAL_DIGITS = 40  # a decimal read from text: no 1E+999999999, which overflows any sum
MAX_DECIMAL_MAGNITUDE = 30


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


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest unit in major units: Decimal('0.01') for GBP."""
    return Decimal(1).scaleb(-exponent_of(currency))


def parse_decimal(text: str) -> Decimal:
    """Parse a decimal amount written as a string; floats are refused by the callers' types."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise MoneyError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not a finite number")
    digits = len(value.as_tuple().digits)
    if digits > MAX_DECIMAL_DIGITS or abs(value.adjusted()) > MAX_DECIMAL_MAGNITUDE:
        raise MoneyError(
            f"{text[:40]!r} is out of range (at most {MAX_DECIMAL_DIGITS} digits, magnitude "
            f"under 10^{MAX_DECIMAL_MAGNITUDE})"
        )
    return value


def to_minor(
    amount: Decimal, currency: str, rounding: Rounding, unit: Decimal | None = None
) -> int:
    """Round once, by the declared rule, to a multiple of ``unit`` (by default the currency's
    minor unit): 312.642 AFN to a unit of 1 is 313, to a unit of 5 is 315, half-up."""
    quantum = minor_unit(currency)
    if unit is None or unit == quantum:
        rounded = amount.quantize(quantum, rounding=rounding.decimal_mode)
    else:
        check_rounding_unit(unit, currency)
        units = (amount / unit).quantize(Decimal(1), rounding=rounding.decimal_mode)
        rounded = units * unit
    minor = int(rounded.scaleb(exponent_of(currency)))
    if abs(minor) > MAX_AMOUNT_MINOR:
        raise MoneyError(f"amount {amount} is out of range")
    return minor


def check_rounding_unit(unit: Decimal, currency: str) -> None:
    """A rounding unit is positive and a whole number of the currency's minor units."""
    if not unit.is_finite() or unit <= 0:
        raise MoneyError(f"a rounding unit must be positive, not {unit}")
    minor_units = unit.scaleb(exponent_of(currency))
    if minor_units != minor_units.to_integral_value():
        raise MoneyError(
            f"{unit} is not a whole number of {currency}'s minor unit "
            f"({Decimal(1).scaleb(-exponent_of(currency))})"
        )


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
