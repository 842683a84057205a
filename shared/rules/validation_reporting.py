"""Validation of what performance reports read: targets, KPIs and the reporting section."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from shared.errors import FieldProblem
from shared.money import MINOR_UNIT_EXPONENTS, MoneyError, parse_decimal
from shared.rules.model import AttributeType, Period, RuleBook, TargetSeries
from shared.rules.vocabulary import MAX_DAYS


def money_problems(book: RuleBook, path: str, text: str) -> Iterator[FieldProblem]:
    try:
        amount = parse_decimal(text)
    except MoneyError as exc:
        yield FieldProblem(path, str(exc))
        return
    exponent = MINOR_UNIT_EXPONENTS.get(book.currency, 2)
    if amount < 0:
        yield FieldProblem(path, "an amount cannot be negative")
    elif amount.as_tuple().exponent < -exponent:  # type: ignore[operator]
        yield FieldProblem(
            path, f"{text} has more than {exponent} decimal places for {book.currency}"
        )


def duplicate_ids(ids: list[str], path: str, what: str) -> Iterator[FieldProblem]:
    """``<path>.<index>.id`` of each id already used earlier in the list."""
    seen: set[str] = set()
    for index, found in enumerate(ids):
        if found in seen:
            yield FieldProblem(f"{path}.{index}.id", f"duplicate {what} id {found!r}")
        seen.add(found)


def reporting_problems(book: RuleBook) -> Iterator[FieldProblem]:
    reporting = book.reporting
    stages = book.stages()
    named: list[tuple[str, str | None]] = [("reporting.cohort_stage", reporting.cohort_stage)]
    for field in ("contact_events", "closed_stages"):
        for index, name in enumerate(getattr(reporting, field) or []):
            named.append((f"reporting.{field}.{index}", name))
    score = reporting.score
    if score is not None:
        named += [("reporting.score.start", score.start), ("reporting.score.end", score.end)]
        for index, part in enumerate(score.parts or []):
            path = f"reporting.score.parts.{index}"
            named += [(f"{path}.start", part.start), (f"{path}.end", part.end)]
            yield from _weight_problems(f"{path}.weight", part.weight)
        simple = score.start is not None and score.end is not None
        neither = score.start is None and score.end is None
        if not (simple if score.parts is None else neither):
            yield FieldProblem(
                "reporting.score", "give start and end, or parts (a composite), not both"
            )
    for path, name in named:
        if name is not None and name not in stages:
            yield FieldProblem(path, f"not a participant event type; known: {', '.join(stages)}")
    if reporting.site_attribute is not None:
        yield from _read_attribute_problems(
            book,
            "reporting.site_attribute",
            reporting.site_attribute,
            "name a site",
            (AttributeType.ENUM, AttributeType.STRING),
        )
    if reporting.caseworker_attribute is not None:
        yield from _caseworker_problems(book, reporting.caseworker_attribute)
    if reporting.budget is not None:
        yield from money_problems(book, "reporting.budget", reporting.budget)
    yield from duplicate_ids([rate.id for rate in reporting.rates], "reporting.rates", "rate")
    for index, rate in enumerate(reporting.rates):
        path = f"reporting.rates.{index}"
        if rate.stage not in stages:
            yield FieldProblem(
                f"{path}.stage", f"not a participant event type; known: {', '.join(stages)}"
            )
        if (rate.denominator == "due_cohorts") != (rate.due_days is not None):
            yield FieldProblem(
                f"{path}.due_days", "due_days is needed with due_cohorts, and only there"
            )
    averages = reporting.averages
    yield from duplicate_ids([a.id for a in averages], "reporting.averages", "average")
    for index, average in enumerate(averages):
        yield from _read_attribute_problems(
            book,
            f"reporting.averages.{index}.attribute",
            average.attribute,
            "be averaged",
            (AttributeType.INTEGER, AttributeType.DECIMAL),
        )
    for field in ("wait_buckets", "contact_buckets"):
        buckets = getattr(reporting, field)
        if buckets is None:
            continue
        for index, (before, edge) in enumerate(itertools.pairwise(buckets.days()), start=1):
            if edge <= before:
                yield FieldProblem(
                    f"reporting.{field}.edges.{index}", "edges must be strictly increasing"
                )
        if buckets.days()[-1] > MAX_DAYS:
            yield FieldProblem(f"reporting.{field}.edges", f"at most {MAX_DAYS} days in all")


def _weight_problems(path: str, text: str) -> Iterator[FieldProblem]:
    try:
        weight = parse_decimal(text)
    except MoneyError as exc:
        yield FieldProblem(path, str(exc))
        return
    if weight <= 0:
        yield FieldProblem(path, "a weight is more than 0")


def _read_attribute_problems(
    book: RuleBook, path: str, reference: str, use: str, types: tuple[AttributeType, ...]
) -> Iterator[FieldProblem]:
    """``event_type.attribute`` that a report reads: a participant event type's attribute,
    not personal, of one of ``types`` (``use`` says what for, in the messages)."""
    event_type, attribute_name = reference.split(".", 1)
    if event_type not in book.stages():
        yield FieldProblem(path, f"{event_type!r} is not a participant event type")
        return
    spec = book.event_types[event_type].attributes.get(attribute_name)
    if spec is None:
        yield FieldProblem(path, f"event type {event_type!r} has no attribute {attribute_name!r}")
    elif spec.personal:
        yield FieldProblem(path, f"a personal attribute cannot {use}: reports never read it")
    elif spec.type not in types:
        kinds = " or ".join(str(t) for t in types)
        yield FieldProblem(path, f"only an {kinds} attribute can {use}")


def _caseworker_problems(book: RuleBook, reference: str) -> Iterator[FieldProblem]:
    """The caseworker attribute: a plain string (kept as a pseudonym), read by nothing else."""
    path = "reporting.caseworker_attribute"
    found = list(
        _read_attribute_problems(
            book, path, reference, "name a caseworker", (AttributeType.STRING,)
        )
    )
    yield from found
    if found:
        return
    event_type, attribute = reference.split(".", 1)
    spec = book.event_types[event_type].attributes[attribute]
    if spec.flag is not None:
        yield FieldProblem(path, "a need or barrier flag cannot name a caseworker")
    if book.reporting.site_attribute == reference:
        yield FieldProblem(path, "the site attribute cannot name a caseworker too")
    if any(average.attribute == reference for average in book.reporting.averages):
        yield FieldProblem(path, "an averaged attribute cannot name a caseworker")
    if attribute in _condition_names(book):
        yield FieldProblem(
            path, f"conditions read {attribute!r}: a caseworker's pseudonym cannot be compared"
        )


def _condition_names(book: RuleBook) -> set[str]:
    """Every attribute name that a condition, tier or multiplier of the rule book reads."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "attribute" and isinstance(item, str):
                    found.add(item.rpartition(".")[2])
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(book.model_dump(include={"outcomes", "eligibility", "entity_eligibility", "scores"}))
    return found


def target_and_kpi_problems(book: RuleBook) -> Iterator[FieldProblem]:
    for index, target in enumerate(book.targets):
        path = f"targets.{index}"
        if target.measure == "staffing":
            if target.stage is not None:
                yield FieldProblem(f"{path}.stage", "a staffing series counts staff, not a stage")
            if target.by == "site":
                yield FieldProblem(f"{path}.by", "staffing is posted per provider, not per site")
        elif target.stage not in book.event_types:
            yield FieldProblem(f"{path}.stage", f"undefined event type {target.stage!r}")
        yield from _target_table_problems(book, path, target)
        for group, values in target.tables().items():
            where = f"{path}.values_by.{group}" if group else f"{path}.values"
            for label, value in values.items():
                if not _label_fits(target.period, label):
                    yield FieldProblem(f"{where}.{label}", f"not a {target.period.value} label")
                if Decimal(str(value)) < 0:
                    yield FieldProblem(f"{where}.{label}", "a target cannot be negative")
    for index, kpi in enumerate(book.kpis):
        path = f"kpis.{index}"
        for field in ("start", "end"):
            if getattr(kpi, field) not in book.event_types:
                yield FieldProblem(
                    f"{path}.{field}", f"undefined event type {getattr(kpi, field)!r}"
                )
        if kpi.rate is not None and (kpi.count > 1 or kpi.each_start or kpi.conversion):
            yield FieldProblem(
                f"{path}.rate", "a rate is its own kind: no count, each_start or conversion"
            )
        if kpi.conversion and (kpi.count > 1 or kpi.each_start):
            yield FieldProblem(
                f"{path}.conversion", "a conversion rate counts each subject once, by its first end"
            )
        if kpi.count > 1 and kpi.start == kpi.end:
            yield FieldProblem(f"{path}.count", "count end events of another type than the start")
        levels = [Decimal(v) for v in (kpi.minimum_level, kpi.lower_level) if v is not None]
        if any(level > 100 for level in levels):
            yield FieldProblem(path, "performance levels are percentages up to 100")
        if len(levels) == 2 and levels[1] > levels[0]:
            yield FieldProblem(
                f"{path}.lower_level", "the lower level cannot exceed the minimum level"
            )


def _target_table_problems(
    book: RuleBook, path: str, target: TargetSeries
) -> Iterator[FieldProblem]:
    """The whole contract's values, or a table per site or provider: one of the two."""
    if target.by is None:
        if target.values_by is not None:
            yield FieldProblem(f"{path}.values_by", "a table by group needs by: site or provider")
        elif not target.values:
            yield FieldProblem(f"{path}.values", "a target series needs values")
        return
    if target.values:
        yield FieldProblem(f"{path}.values", f"a series by {target.by} has values_by instead")
    if not target.values_by:
        yield FieldProblem(f"{path}.values_by", f"give the values of each {target.by}")
        return
    known = _groups(book, target.by)
    for group in target.values_by:
        if known is not None and group not in known:
            yield FieldProblem(
                f"{path}.values_by.{group}",
                f"not a {target.by} of the contract; known: {', '.join(sorted(known))}",
            )
    if target.by == "site" and book.reporting.site_attribute is None:
        yield FieldProblem(f"{path}.by", "a series by site needs reporting.site_attribute")


def _groups(book: RuleBook, by: str) -> set[str] | None:
    """The sites or providers a table may name; None when any name may be a site."""
    if by == "provider":
        return book.provider_ids()
    reference = book.reporting.site_attribute
    if reference is None:
        return None
    event_type, attribute = reference.split(".", 1)
    spec = book.attribute_spec(event_type, attribute)
    return set(spec.values) if spec is not None and spec.values else None


def _label_fits(period: Period, label: str) -> bool:
    if period is Period.MONTH:
        return len(label) == 7 and "Q" not in label
    if period is Period.QUARTER:
        return "-Q" in label
    return len(label) == 4
