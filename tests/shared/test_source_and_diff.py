"""Reading rule books with line numbers, and diffing versions."""

from __future__ import annotations

import pytest

from shared.rules.diff import diff_documents
from shared.rules.model import RuleBookInvalid, parse_rulebook
from shared.rules.source import DocumentUnreadable, read_document
from tests.conftest import IPS_RULEBOOK


def test_problems_can_be_traced_to_their_lines() -> None:
    text = IPS_RULEBOOK.read_text().replace("trigger: job_sustained", "trigger: job_kept")
    source = read_document(text)
    with pytest.raises(RuleBookInvalid) as caught:
        parse_rulebook(source.data)
    [problem] = caught.value.problems
    line = source.line_of(problem.field)
    assert line is not None
    assert text.splitlines()[line - 1].strip() == "trigger: job_kept"


def test_a_missing_field_points_at_its_parent() -> None:
    source = read_document("contract_id: x\noutcomes:\n  - id: a\n    trigger: b\n")
    assert source.line_of("outcomes.0.price") == 3


def test_json_is_read_with_lines_too() -> None:
    source = read_document('{\n  "contract_id": "x",\n  "name": 5\n}')
    assert source.line_of("name") == 3


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(DocumentUnreadable) as caught:
        read_document("name: a\ncurrency: GBP\nname: b\n")
    assert [p.field for p in caught.value.problems] == ["name"]


def test_anchors_and_aliases_are_refused() -> None:
    with pytest.raises(DocumentUnreadable, match="anchors and aliases"):
        read_document("a: &x [1, 2]\nb: *x\n")


@pytest.mark.parametrize("text", ["- just\n- a list\n", "name: [unclosed\n", "{}: {}"])
def test_unreadable_documents_are_refused(text: str) -> None:
    with pytest.raises(DocumentUnreadable):
        read_document(text)


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(DocumentUnreadable, match="nested deeper"):
        read_document("a: " + "[" * 40 + "]" * 40)


def test_a_diff_matches_items_by_id_and_names_each_change() -> None:
    before = {
        "name": "IPS",
        "outcomes": [{"id": "a", "price": "1.00"}, {"id": "b", "price": "2.00"}],
        "providers": [{"id": "p", "name": "P"}],
    }
    after = {
        "name": "IPS v2",
        "outcomes": [{"id": "b", "price": "2.50"}, {"id": "c", "price": "3.00"}],
        "providers": [{"id": "p", "name": "P"}],
    }
    assert [c.describe() for c in diff_documents(before, after)] == [
        "~ name: 'IPS' -> 'IPS v2'",
        "- outcomes[a]: {'id': 'a', 'price': '1.00'}",
        "~ outcomes[b].price: '2.00' -> '2.50'",
        "+ outcomes[c]: {'id': 'c', 'price': '3.00'}",
    ]


def test_identical_documents_have_no_diff() -> None:
    document = {"outcomes": [{"id": "a"}], "values": [1, 2]}
    assert diff_documents(document, document) == []
