"""Reading a rule-book document from YAML or JSON text, keeping where each field came from.

JSON is read as YAML (it is a subset), so both get line numbers. Anchors and aliases are refused
(they can make a small document expand enormously), and so are duplicate keys (YAML would
silently keep the last one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from shared.errors import FieldProblem

MAX_DEPTH = 32


class DocumentUnreadable(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


@dataclass
class SourceDocument:
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """The line of the field at ``path``, or of its nearest parent that has one."""
        parts = path.split(".")
        while parts:
            line = self.lines.get(".".join(parts))
            if line is not None:
                return line
            parts.pop()
        return None


def read_document(text: str) -> SourceDocument:
    try:
        events = list(yaml.parse(text, Loader=yaml.SafeLoader))
        if any(isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None) for e in events):
            raise DocumentUnreadable(
                [FieldProblem("document", "anchors and aliases are not allowed")]
            )
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise DocumentUnreadable(
            [FieldProblem("document", f"not valid YAML or JSON{where}: {exc}")]
        ) from None
    if not isinstance(data, dict):
        raise DocumentUnreadable([FieldProblem("document", "a rule book is a mapping of fields")])
    source = SourceDocument(data)
    problems: list[FieldProblem] = []
    _index(node, "", source.lines, problems, 0)
    if problems:
        raise DocumentUnreadable(problems)
    return source


def _index(
    node: yaml.Node | None,
    path: str,
    lines: dict[str, int],
    problems: list[FieldProblem],
    depth: int,
) -> None:
    if node is None:
        return
    if depth > MAX_DEPTH:
        problems.append(FieldProblem(path or "document", f"nested deeper than {MAX_DEPTH} levels"))
        return
    if path:
        lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in seen:
                problems.append(
                    FieldProblem(child, f"duplicate key (line {key_node.start_mark.line + 1})")
                )
            seen.add(key)
            _index(value_node, child, lines, problems, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, f"{path}.{index}" if path else str(index), lines, problems, depth + 1)
