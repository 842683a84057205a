"""Schemathesis hooks for tests/system/test_schemathesis.py (loaded through
``SCHEMATHESIS_HOOKS``): a generated long-poll does not wait (``wait_s`` 0), so a valid wait of
up to 25 s neither outlasts the client's timeout nor adds its seconds to the run for every
empty page. Long-polls are tested on their own (tests/claims/test_api_tailing.py,
tests/ledger/test_api.py); other values, invalid ones included, pass unchanged."""

from __future__ import annotations

from typing import Any

import schemathesis

LONGEST_WAIT_S = 0.0


@schemathesis.hook
def map_query(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    wait = query.get("wait_s") if query else None
    if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > LONGEST_WAIT_S:
        assert query is not None
        return {**query, "wait_s": LONGEST_WAIT_S}
    return query
