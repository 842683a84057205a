"""The claims application: the claims event store, and the one place its use cases are wired.

Each use case is a small collaborator given typed dependencies (the store, the contracts, the
reader, personal data, the populations, the clock), and each ends in exactly one ``save``, so
a recorded event and the claims it implies are stored in one transaction and can never be seen
apart. Conflicting concurrent writes are retried a bounded number of times
(:func:`shared.eventstore.retrying`).

======================  ==============================================================
``contracts``           register a rule book or a new version; what is in force
``reader``              a participant, a claim, what a history earns (404 if unknown)
``intake``              record participant events (one, a batch, or many requests)
``corrections``         correct or retract a recorded event
``imports``             check a provider's CSV file of events, then record it in batches
``verification``        evidence, verify and reject (one or a thousand), disputes
``personal``            seal personal attributes (pseudonymise caseworkers), open, erase
``population_closing``  derive the claims of populations whose period has closed
======================  ==============================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from services.claims.amendments import Amendments
from services.claims.closer import PopulationClosing
from services.claims.contracts import Contracts
from services.claims.corrections import Corrections
from services.claims.domain import CATALOGUE
from services.claims.erasure import PersonalData
from services.claims.imports import EventImport
from services.claims.intake import Intake, IntakeDependencies
from services.claims.personal import PersonalDataVault
from services.claims.populations import Populations
from services.claims.reader import Reader
from services.claims.receipts import Receipts
from services.claims.verification import Verification
from shared.eventstore import OutcomesApplication


class ClaimsApplication(OutcomesApplication):
    name = "claims"
    catalogue = CATALOGUE

    def __init__(
        self,
        database_url: str,
        pseudonym_key: str,
        clock: Callable[[], dt.datetime],
        vault: PersonalDataVault,
        store_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(database_url, store_env)
        self.clock = clock
        self.vault = vault
        self.contracts = Contracts(self, clock)
        self.reader = Reader(self, self.contracts)
        self.personal = PersonalData(self, vault, self.reader, clock, pseudonym_key)
        populations = Populations(self.load, self.has_newer)
        self.receipts = Receipts(self)
        needs = IntakeDependencies(
            self, self.contracts, self.reader, self.personal, populations, self.receipts, clock
        )
        self.intake = Intake(needs, pseudonym_key)
        self.corrections = Corrections(needs)
        self.imports = EventImport(self.receipts, self.intake)
        self.verification = Verification(self, self.contracts, self.reader, clock)
        self.population_closing = PopulationClosing(needs)
        self.amendments = Amendments(needs, self.read_lean)

    def close(self) -> None:
        super().close()
        self.vault.close()
