"""Closing populations: the use case, and the closer that runs it on its own.

:class:`PopulationClosing` derives, in one bounded transaction, the claims of a contract's
populations whose period has closed.

Every replica starts one; a lease lets one of them work at a time (the others stand by).
Every ``interval_s`` (the first time one interval after start) the holder closes, contract by
contract, what has closed since its last round, in bounded transactions
(:meth:`PopulationClosing.close`). Closing is idempotent, so a round repeated by
another replica after a failover changes nothing. The admin endpoint and ``outcomes contracts
close-populations`` do the same on demand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from services.claims.commands import Batch, ClosingResult, Rederivation
from services.claims.contracts import Contracts
from services.claims.intake import IntakeDependencies
from services.claims.population import PopulationIndex, population_index_id
from shared.background import LeasedWorker
from shared.eventstore import retrying
from shared.feed.lease import Lease

log = logging.getLogger(__name__)
ACTOR = "system:population-closer"
LIMIT = 500
MAX_ROUNDS_PER_CONTRACT = 100  # 50,000 populations a contract a round, at most


class PopulationClosing:
    def __init__(self, needs: IntakeDependencies) -> None:
        self._needs = needs

    def close(self, contract_id: str, actor: str, limit: int = 500) -> ClosingResult:
        """Derive the claims of the contract's populations whose period has closed since the
        last call (at most ``limit`` per call, in one transaction). Idempotent: a closed
        population is re-derived by the events that change it, not here."""
        try:
            return retrying(lambda: self._close(contract_id, actor, limit))
        except BaseException:
            self._needs.populations.forget()
            raise

    def _close(self, contract_id: str, actor: str, limit: int) -> ClosingResult:
        versions = self._needs.contracts.versions_for(contract_id)
        now = self._needs.clock()
        index = self._needs.store.load(population_index_id(contract_id), PopulationIndex)
        batch = Batch()
        for population_key in index.due(now.date()) if index is not None else []:
            population = self._needs.populations.get(population_key)
            if population is not None and not population.closed:
                batch.populations[population_key] = population
                if len(batch.populations) == limit:
                    break
        changes = Rederivation()
        touched = {key: key for key in batch.populations}
        needs = self._needs
        needs.populations.derive(
            batch, versions, touched, (actor, now), needs.reader.claim, needs.store.existing,
            changes,
        )  # fmt: skip
        self._needs.store.save(*batch.aggregates())
        return ClosingResult(len(batch.populations), changes.derived())


class PopulationCloser(LeasedWorker):
    name = "population-closer"

    def __init__(
        self,
        closing: PopulationClosing,
        contracts: Contracts,
        contract_ids: Callable[[], list[str]],
        lease: Lease,
        interval_s: float,
    ) -> None:
        super().__init__(lease, interval_s)
        self._closing = closing
        self._contracts = contracts
        self._contract_ids = contract_ids

    def close_all(self) -> int:
        """One round: close every contract's closed populations; how many were closed."""
        closed = 0
        for contract_id in self._contract_ids():
            if not self._contracts.latest_rulebook(contract_id).population_outcomes():
                continue
            for _round in range(MAX_ROUNDS_PER_CONTRACT):
                result = self._closing.close(contract_id, ACTOR, LIMIT)
                closed += result.closed
                if result.closed < LIMIT:
                    break
        return closed

    def work(self) -> None:
        closed = self.close_all()
        if closed:
            log.info("closed %d populations", closed)
