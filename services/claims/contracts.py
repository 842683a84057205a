"""Contracts: register a rule book or a new version of it, and read what is in force.

A collaborator of the claims application, given the store and the clock. It keeps a copy of
each contract it read (checked against the store on every use, so an amendment by any replica
is seen at once) and each rule-book version it validated, both bounded.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from services.claims.domain import Contract, versions_of
from services.claims.errors import ContractConflict, ContractNotFound
from shared.collector import fewer_collections
from shared.eventstore import OutcomesApplication, retrying
from shared.identifiers import canonical_sha256, stable_id
from shared.rules.engine import RuleBookVersion
from shared.rules.model import RuleBook

MAX_KEPT_CONTRACTS = 256
MAX_KEPT_RULEBOOKS = 1024
EVENT_DATE_TOLERANCE_DAYS = 1  # how far ahead of today an event's date may be


class Contracts:
    def __init__(self, store: OutcomesApplication, clock: Callable[[], dt.datetime]) -> None:
        self._store = store
        self._clock = clock
        self._rulebooks: dict[tuple[str, int], RuleBookVersion] = {}
        self._kept: dict[str, tuple[Contract, float]] = {}  # with when it was checked

    def register(self, rulebook: RuleBook) -> tuple[int, bool]:
        """Register a rule book, or a new version of it. Returns (version, created)."""
        with fewer_collections():  # a large rule book is many objects to dump and store
            return retrying(lambda: self._register(rulebook))

    def _register(self, rulebook: RuleBook) -> tuple[int, bool]:
        document = rulebook.canonical()
        digest = canonical_sha256(document)
        # loaded afresh, never from the kept copies: this command changes it
        contract = self._store.load(stable_id("contract", rulebook.contract_id), Contract)
        if contract is None:
            self._store.save(Contract(rulebook.contract_id, document, digest))
            return 1, True
        existing = contract.version_of_document(digest)
        if existing is not None:
            return existing, False
        self._check_amendment(rulebook, RuleBook.model_validate(contract.documents[-1]))
        contract.amend(contract.current_version + 1, document, digest)
        self._store.save(contract)
        return contract.current_version, True

    def retroactive(self, rulebook: RuleBook) -> Contract:
        """The contract with ``rulebook`` added as its next version, whatever its effective
        date (not before the contract's start), not saved: an approved amendment saves it with
        its approval. From its effective date on, it is the version in force (the newest
        version in force on a date wins), so it supersedes what it overlaps."""
        contract = self._store.load(stable_id("contract", rulebook.contract_id), Contract)
        if contract is None:
            raise ContractNotFound(rulebook.contract_id)
        document = rulebook.canonical()
        digest = canonical_sha256(document)
        if contract.version_of_document(digest) is not None:
            raise ContractConflict("this rule book is registered already")
        latest = RuleBook.model_validate(contract.documents[-1])
        self._check_terms(rulebook, latest)
        start = RuleBook.model_validate(contract.documents[0]).effective_from
        if rulebook.effective_from < start:
            raise ContractConflict(
                f"an amendment cannot take effect before the contract's start ({start})"
            )
        contract.amend(contract.current_version + 1, document, digest)
        return contract

    def _check_terms(self, rulebook: RuleBook, latest: RuleBook) -> None:
        if rulebook.currency != latest.currency:
            raise ContractConflict("a new version cannot change the contract's currency")
        if rulebook.year_starts != latest.year_starts:
            raise ContractConflict(
                "a new version cannot move the start of the reporting year: periods already "
                "reported, capped and limited would change their meaning"
            )

    def _check_amendment(self, rulebook: RuleBook, latest: RuleBook) -> None:
        self._check_terms(rulebook, latest)
        if rulebook.effective_from <= latest.effective_from:
            raise ContractConflict(
                "a new version must take effect after the current one "
                f"({latest.effective_from.isoformat()})"
            )
        earliest = self._clock().date() + dt.timedelta(days=EVENT_DATE_TOLERANCE_DAYS + 1)
        if rulebook.effective_from < earliest:
            raise ContractConflict(
                f"a new version must take effect on or after {earliest.isoformat()}: events up "
                "to then may be recorded already, with claims priced under the current version "
                "(propose an amendment instead: POST /v1/contracts/{id}/amendments)"
            )

    def get(self, contract_id: str, checked_within_s: float = 0.0) -> Contract:
        """The contract as stored now (read-only: shared between requests). A kept copy is
        checked against the store (one indexed query for events after its version) unless it
        was checked within ``checked_within_s``."""
        aggregate_id = stable_id("contract", contract_id)
        kept = self._kept.get(contract_id)
        now = time.monotonic()
        if kept is not None:
            contract, checked = kept
            if now - checked < checked_within_s:
                return contract
            if not self._store.has_newer(aggregate_id, contract.version):
                self._kept[contract_id] = (contract, now)
                return contract
        loaded = self._store.load(aggregate_id, Contract)
        if loaded is None:
            raise ContractNotFound(contract_id)
        if len(self._kept) >= MAX_KEPT_CONTRACTS:
            self._kept.pop(next(iter(self._kept)), None)
        self._kept[contract_id] = (loaded, now)
        return loaded

    def versions(self, contract: Contract) -> list[RuleBookVersion]:
        """Every version of the contract's rule book, each validated once."""
        keys = [(contract.contract_id, n) for n in range(1, contract.current_version + 1)]
        kept = [self._rulebooks.get(key) for key in keys]
        if all(version is not None for version in kept):
            return [version for version in kept if version is not None]
        validated = versions_of(contract)  # every version at once, not once per missing one
        for key, version in zip(keys, validated, strict=True):
            if key not in self._rulebooks and len(self._rulebooks) >= MAX_KEPT_RULEBOOKS:
                self._rulebooks.pop(next(iter(self._rulebooks)), None)
            self._rulebooks[key] = version
        return validated

    def versions_for(self, contract_id: str) -> list[RuleBookVersion]:
        return self.versions(self.get(contract_id))

    def latest_rulebook(self, contract_id: str, checked_within_s: float = 0.0) -> RuleBook:
        """The contract's newest rule book. ``checked_within_s`` accepts a kept copy checked
        against the store that recently (for pre-checks that the use case repeats)."""
        return self.versions(self.get(contract_id, checked_within_s))[-1].rulebook
