"""The population closer: derives the claims of populations whose period has closed, on its own.

Every replica starts one; a lease lets one of them work at a time (the others stand by).
Every ``interval_s`` (the first time one interval after start) the holder closes, contract by
contract, what has closed since its last round, in bounded transactions
(:meth:`ClaimsApplication.close_populations`). Closing is idempotent, so a round repeated by
another replica after a failover changes nothing. The admin endpoint and ``outcomes contracts
close-populations`` do the same on demand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from services.claims.application import ClaimsApplication
from shared.feed.lease import Lease

log = logging.getLogger(__name__)
ACTOR = "system:population-closer"
LIMIT = 500
MAX_ROUNDS_PER_CONTRACT = 100  # 50,000 populations a contract a round, at most


class PopulationCloser:
    def __init__(
        self,
        application: ClaimsApplication,
        contract_ids: Callable[[], list[str]],
        lease: Lease,
        interval_s: float,
    ) -> None:
        self._application = application
        self._contract_ids = contract_ids
        self._lease = lease
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="population-closer", daemon=True)
        self._round_done = threading.Condition()
        self.rounds = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        self._thread.join(timeout_s)
        self._lease.release()

    def close_all(self) -> int:
        """One round: close every contract's closed populations; how many were closed."""
        closed = 0
        for contract_id in self._contract_ids():
            if not self._application.latest_rulebook(contract_id).population_outcomes():
                continue
            for _round in range(MAX_ROUNDS_PER_CONTRACT):
                result = self._application.close_populations(contract_id, ACTOR, LIMIT)
                closed += result.closed
                if result.closed < LIMIT:
                    break
        return closed

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):  # the first round after one interval
            try:
                if self._lease.hold():
                    closed = self.close_all()
                    if closed:
                        log.info("closed %d populations", closed)
            except Exception:  # a failed round is retried at the next; the service goes on
                log.exception("closing populations failed; retrying in %.0f s", self._interval_s)
            with self._round_done:
                self.rounds += 1
                self._round_done.notify_all()

    def wait_for_rounds(self, rounds: int, timeout_s: float) -> bool:
        """Whether ``rounds`` rounds (held or not) have run within ``timeout_s``."""
        with self._round_done:
            return self._round_done.wait_for(lambda: self.rounds >= rounds, timeout_s)
