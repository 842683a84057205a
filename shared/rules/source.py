"""Reading a rule-book document from YAML or JSON text, keeping where each field came from.

JSON is read as YAML (it is a subset), so both get line numbers. The text is read once, as a
stream of parser events from libyaml (C), and the document is built from the events with the
limits checked as it goes, so no input can make the reader recurse, allocate or work without
bound: nesting deeper than 32 levels, more than 250,000 nodes, a string longer than 10,000
characters or a number longer than 40 characters is refused at once, naming the limit and the
line. Anchors and aliases are refused (they can make a small document expand enormously), and
so are duplicate keys (YAML would silently keep the last one) and keys that are not scalars.
Scalars get the same types as ``yaml.safe_load`` gives them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from shared.collector import fewer_collections
from shared.errors import FieldProblem

MAX_DEPTH = 32
MAX_NODES = 250_000
MAX_STRING_CHARACTERS = 10_000
MAX_NUMBER_CHARACTERS = 40
YIELD_EVERY_EVENTS = 1_000
NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where installed


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


@dataclass
class _Frame:
    """A mapping or sequence being built."""

    path: str
    value: dict[Any, Any] | list[Any]
    key: tuple[Any, str] | None = None  # a mapping's key waiting for its value
    seen: set[str] = field(default_factory=set)


class _Builder:
    def __init__(self) -> None:
        self.resolver = Resolver()
        self.constructor = SafeConstructor()
        self.stack: list[_Frame] = []
        self.lines: dict[str, int] = {}
        self.problems: list[FieldProblem] = []
        self.nodes = 0
        self.root: Any = None

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _refused("document", "anchors and aliases are not allowed", event)
        if isinstance(event, yaml.ScalarEvent):
            self._node(event)
            self._place(self._scalar(event), event)
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            path = self._node(event)
            if len(self.stack) >= MAX_DEPTH:
                raise _refused(path or "document", f"nested deeper than {MAX_DEPTH} levels", event)
            container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
            self.stack.append(_Frame(path, container))
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frame = self.stack.pop()
            self._place(frame.value, event)

    def _node(self, event: yaml.NodeEvent) -> str:
        """Count the node, check its place, and record its line; returns its path."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _refused("document", f"more than {MAX_NODES} nodes", event)
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            return ""
        if isinstance(parent.value, dict) and parent.key is None:
            if not isinstance(event, yaml.ScalarEvent):
                raise _refused(parent.path or "document", "a key must be a plain value", event)
            return parent.path  # a key: its own line is recorded with its value
        path = self._path_of_next()
        self.lines[path] = _line(event) or 0
        return path

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        where = self._path_of_next()
        if tag in NUMBER_TAGS and len(event.value) > MAX_NUMBER_CHARACTERS:
            raise _refused(where, f"a number longer than {MAX_NUMBER_CHARACTERS} characters", event)
        if len(event.value) > MAX_STRING_CHARACTERS:
            message = f"a value longer than {MAX_STRING_CHARACTERS} characters"
            raise _refused(where, message, event)
        marks: Any = (event.start_mark, event.end_mark)
        node = ScalarNode(tag, event.value, marks[0], marks[1], event.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ConstructorError, ValueError, OverflowError) as exc:
            raise _refused(where, f"cannot read this value: {exc}", event) from None

    def _path_of_next(self) -> str:
        """The path of the node about to be placed (a mapping's key: the mapping's own)."""
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            return "document"
        if isinstance(parent.value, list):
            return _join(parent.path, str(len(parent.value)))
        return _join(parent.path, parent.key[1]) if parent.key is not None else parent.path

    def _place(self, value: Any, event: yaml.Event) -> None:
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            self.root = value
        elif isinstance(parent.value, list):
            parent.value.append(value)
        elif parent.key is None:
            raw = str(getattr(event, "value", value))
            child = _join(parent.path, raw)
            if raw in parent.seen:
                self.problems.append(FieldProblem(child, f"duplicate key (line {_line(event)})"))
            parent.seen.add(raw)
            parent.key = (value, raw)
        else:
            key, _raw = parent.key
            try:
                parent.value[key] = value
            except TypeError:
                message = "a key must be a plain value"
                raise _refused(parent.path or "document", message, event) from None
            parent.key = None


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


class _Refused(Exception):
    def __init__(self, problem: FieldProblem) -> None:
        self.problem = problem


def _line(event: yaml.Event) -> int | None:
    mark = event.start_mark
    return int(mark.line) + 1 if mark is not None else None


def _refused(path: str, message: str, event: yaml.Event) -> _Refused:
    line = _line(event)
    return _Refused(FieldProblem(path, f"{message} (line {line})" if line else message, line))


def read_document(text: str) -> SourceDocument:
    """Read in a worker thread, the reader yields the interpreter every few thousand events,
    so the threads serving other requests are never kept waiting for long."""
    builder = _Builder()
    try:
        with fewer_collections():
            for count, event in enumerate(yaml.parse(text, Loader=_Loader)):
                builder.feed(event)
                if count % YIELD_EVERY_EVENTS == 0:
                    time.sleep(0)
    except _Refused as refused:
        raise DocumentUnreadable([refused.problem]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise DocumentUnreadable(
            [FieldProblem("document", f"not valid YAML or JSON{where}: {exc}")]
        ) from None
    if not isinstance(builder.root, dict):
        raise DocumentUnreadable([FieldProblem("document", "a rule book is a mapping of fields")])
    if builder.problems:
        raise DocumentUnreadable(builder.problems)
    return SourceDocument(builder.root, builder.lines)
