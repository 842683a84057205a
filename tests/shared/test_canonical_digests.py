"""A rule book written before a construct existed keeps its canonical document, and so its
digest and its registration: new optional constructs are left out while unset. The digests of
every example were recorded before the reporting section gained bucket edges and rates (a
version that printed them as nulls changed every digest, and this test would have failed)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from shared.identifiers import canonical_sha256
from shared.rules.model import parse_rulebook

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "rulebook-digests.json"


def test_every_example_keeps_its_digest() -> None:
    recorded: dict[str, str] = json.loads(GOLDEN.read_text())
    assert len(recorded) == 10  # every example contract
    for name, digest in recorded.items():
        book = parse_rulebook(yaml.safe_load((ROOT / name).read_text()))
        assert canonical_sha256(book.canonical()) == digest, name
