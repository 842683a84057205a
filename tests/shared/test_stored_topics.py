"""Every stored event's topic is pinned: moving or renaming an event class fails here.

An event store keeps each event's topic (``module:Class.Event``) and decodes it by resolving that
topic back to a class. A class moved to another module, renamed, or shared between aggregates
would make the events already stored undecodable, so every aggregate's event classes and their
topics are listed in ``tests/golden/stored-topics.json``. A deliberate change updates the list
and registers the old topic (``eventsourcing.utils.register_topic``) in the same commit.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

from eventsourcing.domain import BaseAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

import services

GOLDEN = Path(__file__).parent.parent / "golden" / "stored-topics.json"


def _aggregates() -> set[type]:
    found: set[type] = set()
    for info in pkgutil.walk_packages(services.__path__, "services."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseAggregate) and value.__module__ == info.name:
                found.add(value)
    return found


def _topics() -> list[str]:
    topics = set()
    for aggregate in _aggregates():
        for name, value in vars(aggregate).items():
            if (
                name[0].isupper()
                and inspect.isclass(value)
                and issubclass(value, CanMutateAggregate)
            ):
                topics.add(get_topic(value))
    return sorted(topics)


def test_every_stored_topic_is_the_one_pinned() -> None:
    assert _topics() == json.loads(GOLDEN.read_text())


def test_every_pinned_topic_resolves_to_an_event_of_its_aggregate() -> None:
    for topic in json.loads(GOLDEN.read_text()):
        event_class = resolve_topic(topic)
        assert issubclass(event_class, CanMutateAggregate)
        assert get_topic(event_class) == topic


def test_shared_claim_link_events_keep_each_aggregate_s_topic() -> None:
    from services.claims.domain import Participant
    from services.claims.population import Population

    assert get_topic(Participant.ClaimLinked) == "services.claims.domain:Participant.ClaimLinked"
    assert get_topic(Population.ClaimUnlinked) == (
        "services.claims.population:Population.ClaimUnlinked"
    )
    participant = Participant(contract_id="c", provider_id="p", participant_id="x", subject="s")
    participant.link_claim("k", "claim-1", "f1")
    assert participant.claims == {"k": {"claim_id": "claim-1", "fingerprint": "f1"}}
    participant.unlink_claim("k", "claim-1")
    assert participant.claims == {}
    stored = [type(e) for e in participant.collect_events()]
    assert stored[1:] == [Participant.ClaimLinked, Participant.ClaimUnlinked]
