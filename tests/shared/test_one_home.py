"""One home for each thing: the source itself is checked, so a second copy cannot creep back.

- Public event type names are written only in the feed catalogue; everyone else uses
  ``feed.ClaimVerified.TYPE`` and friends. Webhook message kinds (another public catalogue,
  some spelled like feed types) are written only in ``services/ledger/webhooks/messages.py``.
- Nobody reads a feed payload by string keys: ``entry.data["…"]`` and ``data.get("…")`` appear
  nowhere outside the catalogue (a consumer reads ``feed.ClaimVerified.of(entry).booking``).
- Ledger account names are spelled only in the chart of accounts (``shared/feed/accounts.py``).
- Month arithmetic (``% 12``, ``// 12``, ``strftime("%Y-%m")``) lives only in
  ``shared/periods.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    path
    for folder in ("services", "shared", "bench")
    for path in (ROOT / folder).rglob("*.py")
    if "migrations" not in path.parts
)
# the OpenAPI documents' examples are answers as a client sees them, feed types spelled out
# (the last test checks that each is one of the catalogue's)
EXAMPLES = {
    "shared/openapi_examples.py",
    "services/claims/openapi_examples.py",
    "services/ledger/openapi_examples.py",
}
ENVELOPE_EXAMPLE = '{"position": 42, "type": "claim.verified", "schema_version": 1,'

RULES = {
    "type name": (
        re.compile(r"[\"'](contract|participant|claim|ledger|staffing)\.[a-z_]+[\"']"),
        {"shared/feed/catalogue.py", "services/ledger/webhooks/messages.py", *EXAMPLES},
    ),
    "payload read by key": (
        re.compile(r"\.data\[[\"']|\.data\.get\("),
        {"shared/feed/catalogue.py"},
    ),
    "account name": (
        re.compile(r"[\"'](outcome_payments|payable:|recoverable:|memo:capped)[\"':]"),
        # INDIGO's project schema has a list named outcome_payments: not the account
        {"shared/feed/accounts.py", "services/metrics/indigo.py"},
    ),
    "month arithmetic": (
        re.compile(r"% 12\b|// 12\b|strftime\([\"']%Y-%m[\"']\)"),
        {"shared/periods.py"},
    ),
}


def offences(pattern: re.Pattern[str], allowed: set[str]) -> list[str]:
    found = []
    for path in SOURCES:
        name = path.relative_to(ROOT).as_posix()
        if name in allowed:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and ENVELOPE_EXAMPLE not in line:
                found.append(f"{name}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize("rule", sorted(RULES))
def test_written_in_one_place(rule: str) -> None:
    pattern, allowed = RULES[rule]
    assert offences(pattern, allowed) == []


def test_the_scan_finds_an_offence() -> None:
    """The scan can fail: each rule matches the kind of line it is meant to keep out."""
    samples = {
        "type name": 'if entry.type == "claim.verified":',
        "payload read by key": 'amount = entry.data["amount_minor"]',
        "account name": 'balances["outcome_payments"]',
        "month arithmetic": "year, month = divmod(index, 12); month % 12",
    }
    for rule, line in samples.items():
        assert RULES[rule][0].search(line), rule


def test_the_examples_name_only_the_catalogues_types() -> None:
    from services.ledger.webhooks.messages import MessageKind
    from shared.feed.catalogue import payloads

    known = {payload.TYPE for _, payload in payloads()} | {kind.value for kind in MessageKind}
    pattern = RULES["type name"][0]
    named = {
        match.group(0).strip("\"'")
        for path in EXAMPLES
        for match in pattern.finditer((ROOT / path).read_text())
    }
    assert named and named <= known, named - known
