"""A readable diff between two rule-book versions: one line per field that changed.

Lists of items with an ``id`` (outcomes, providers, caps, targets, KPIs, tiers) are matched by
id, so reordering is not reported as a change and a changed price shows as
``outcomes[job_start].price``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Change:
    path: str
    kind: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None

    def describe(self) -> str:
        if self.kind == "added":
            return f"+ {self.path}: {self.after!r}"
        if self.kind == "removed":
            return f"- {self.path}: {self.before!r}"
        return f"~ {self.path}: {self.before!r} -> {self.after!r}"


def diff_documents(before: Any, after: Any, path: str = "") -> list[Change]:
    if isinstance(before, dict) and isinstance(after, dict):
        return _diff_mappings(before, after, path)
    if isinstance(before, list) and isinstance(after, list):
        if _keyed(before) and _keyed(after):
            return _diff_mappings(_by_id(before), _by_id(after), path, keyed=True)
        return _diff_mappings(dict(enumerate(before)), dict(enumerate(after)), path, keyed=True)
    if before != after:
        return [Change(path, "changed", before, after)]
    return []


def _diff_mappings(
    before: dict[Any, Any], after: dict[Any, Any], path: str, keyed: bool = False
) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(set(before) | set(after), key=str):
        child = f"{path}[{key}]" if keyed else (f"{path}.{key}" if path else str(key))
        if key not in after:
            changes.append(Change(child, "removed", before=before[key]))
        elif key not in before:
            changes.append(Change(child, "added", after=after[key]))
        else:
            changes.extend(diff_documents(before[key], after[key], child))
    return changes


def _keyed(items: list[Any]) -> bool:
    ids = [item.get("id") for item in items if isinstance(item, dict)]
    return len(ids) == len(items) and None not in ids and len(set(ids)) == len(ids)


def _by_id(items: list[Any]) -> dict[Any, Any]:
    return {item["id"]: item for item in items}
