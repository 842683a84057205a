"""Recomputing one population's claim: a hospital's quarter with many babies (in process).

    .venv/bin/python -m bench.populations [--members 100000] [--repeat 5]

Builds one population of the kangaroo-care example (a hospital in 2025-Q2) holding N members'
facts, as the claims service keeps it, then times in the same run:

- baseline: one pass over the N facts counting members and those who met the condition, the
  least any recomputation from kept facts must do;
- recompute: the population's figures from its facts and the claim they earn under the rule
  book (:func:`shared.rules.populations.derive_population`), what every change to a closed
  population costs;
- change: one member's fact changed on the kept population (an event), then recomputed;
- replay: what recomputing would cost *without* kept facts: each member's fact derived again
  from its own history (two events each), then summed;
- load: reading the population back from a SQLite event store (one event per member), what a
  replica pays once before it keeps a copy in memory.

Prints each time with its ratio to the baseline; the target is a recompute under 1 s for
100,000 members. The store for the load is a SQLite file in a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from services.claims.application import ClaimsApplication
from services.claims.personal import PersonalDataVault
from services.claims.population import Population
from shared.rules.engine import RecordedEvent, RuleBookVersion
from shared.rules.model import parse_rulebook
from shared.rules.populations import Figures, MemberFact, derive_population, member_fact
from shared.sqlviews import create_engine, migrate
from shared.storeurls import sqlalchemy_url

ROOT = Path(__file__).parents[1]
RULEBOOK = ROOT / "examples" / "contracts" / "kangaroo-care-dib.yaml"
OUTCOME = "metric_c_quarterly_weight_gain"
MIGRATIONS = ROOT / "services" / "claims" / "migrations"
KEY = "YmVuY2gtcGVyc29uYWwtZGF0YS1rZXktMDEyMzQ1Njc="


def history(rng: random.Random, index: int) -> list[RecordedEvent]:
    day = dt.date(2025, 4, 1) + dt.timedelta(days=rng.randrange(91))
    gain = rng.choice(["9.5", "15", "18.25", "22"])  # about 75 % gain enough
    return [
        RecordedEvent(f"b{index}-e", "baby_enrolled", day, {"hospital": "h1"}),
        RecordedEvent(
            f"b{index}-w",
            "weight_assessed",
            day + dt.timedelta(days=30),
            {"appropriate_gain": True, "gain_g_per_kg_day": gain},
        ),
    ]


def timed(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def timed_load(population: Population, repeat: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/claims.sqlite"
        engine = create_engine(sqlalchemy_url(url))
        migrate(engine, MIGRATIONS, "alembic_version_claims")
        vault = PersonalDataVault(engine, KEY, owns_engine=True)
        app = ClaimsApplication(url, "bench-pseudonym-key-0123456789abcdef", _now, vault)
        try:
            app.save(population)
            return timed(lambda: app.load(population.id, Population), repeat)
        finally:
            app.close()


def _now() -> dt.datetime:
    return dt.datetime(2025, 8, 1, tzinfo=dt.UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(14)
    versions = [RuleBookVersion(1, parse_rulebook(yaml.safe_load(RULEBOOK.read_text())))]
    histories = [history(rng, i) for i in range(args.members)]
    population = Population("kangaroo-care-dib", "kmc", OUTCOME, "h1", "2025-Q2", "2025-07-30")
    for index, events in enumerate(histories):
        population.count(f"p{index}", member_fact(versions, OUTCOME, events))
    facts = [MemberFact.from_json(f) for f in population.members.values()]

    def baseline() -> tuple[int, int]:
        return len(facts), sum(1 for f in facts if f.met)

    def recompute() -> object:
        return derive_population(versions, OUTCOME, "h1", "2025-Q2", population.figures())

    flip = [True]

    def change() -> object:
        flip[0] = not flip[0]
        population.count("p0", MemberFact("h1", "2025-Q2", flip[0], None))
        return recompute()

    def replay() -> object:
        fresh = [member_fact(versions, OUTCOME, events) for events in histories]
        figures = Figures.of(f for f in fresh if f is not None)
        return derive_population(versions, OUTCOME, "h1", "2025-Q2", figures)

    claim = recompute()
    base = timed(baseline, args.repeat)
    loaded = timed_load(population, 1)
    rows = [
        ("B  one pass over the facts (baseline)", base),
        ("P  recompute the claim from kept facts", timed(recompute, args.repeat)),
        ("P' one member changes, then recompute", timed(change, args.repeat)),
        ("R  replay every member's history instead", timed(replay, 1)),
        ("L  load it from a SQLite store (cold)", loaded),
    ]
    print(f"{args.members:,} members; claim: {getattr(claim, 'amount_minor', None)} minor units")
    for label, seconds in rows:
        print(f"{label:44s} {seconds * 1000:9.1f} ms  {seconds / base:7.1f} x baseline")
    target = rows[1][1] < 1.0
    print(f"target (recompute under 1 s): {'met' if target else 'missed'}")


if __name__ == "__main__":
    main()
