"""Work a service does on its own, in rounds, on one replica at a time (the one holding a lease).

Every replica starts the worker; each round, the worker that holds (or takes) the lease works,
the others stand by. A round that fails is logged and retried at the next; the service goes on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from shared.feed.lease import Lease

log = logging.getLogger(__name__)


@dataclass
class WorkerState:
    """What ``/metrics`` reports of a worker under a lease: whether this replica holds it, and
    how many of its rounds failed."""

    name: str
    holding: bool = False
    failed_rounds: int = 0


class LeasedWorker:
    """Calls :meth:`work` every ``interval_s`` (the first time one interval after start) while
    holding ``lease``. Subclasses implement :meth:`work` and may watch :attr:`stopping`."""

    name = "worker"

    def __init__(self, lease: Lease, interval_s: float) -> None:
        self._lease = lease
        self._interval_s = interval_s
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._round_done = threading.Condition()
        self.rounds = 0
        self.state = WorkerState(self.name)

    def work(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._lease.release()

    def _run(self) -> None:
        while not self.stopping.wait(self._interval_s):
            try:
                self.state.holding = self._lease.hold()
                if self.state.holding:
                    self.work()
            except Exception:  # a failed round is retried at the next; the service goes on
                self.state.failed_rounds += 1
                log.exception("%s: a round failed; retrying in %.0f s", self.name, self._interval_s)
            with self._round_done:
                self.rounds += 1
                self._round_done.notify_all()

    def wait_for_rounds(self, rounds: int, timeout_s: float) -> bool:
        """Whether ``rounds`` rounds (held or not) have run within ``timeout_s``."""
        with self._round_done:
            return self._round_done.wait_for(lambda: self.rounds >= rounds, timeout_s)
