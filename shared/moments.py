"""``as_known_at`` query parameters: a moment with a time zone, not before any record."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)


def known_moment(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-04-01T09:00:00Z")
    try:
        in_utc = moment.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last representable moment
        raise ValueError("the moment is out of range") from None
    if in_utc < EARLIEST:
        raise ValueError("the moment is before any record could exist")
    return in_utc


KnownAt = Annotated[
    dt.datetime | None,
    AfterValidator(known_moment),
    Query(description="Answer as the system knew it then (ISO time with a zone)"),
]


AsOf = Annotated[
    dt.datetime | None,
    AfterValidator(known_moment),
    Query(description="A past moment (ISO time with a zone); default: now"),
]
