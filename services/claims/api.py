"""Claims HTTP API: translate HTTP to use cases and back, and check who may do what."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import Body, Depends, FastAPI, Query, Request, Response

from services.claims.application import ClaimsApplication, IncomingEvent, IntakeResult
from services.claims.domain import Claim, Participant
from services.claims.errors import ClaimNotFound
from services.claims.projections import ClaimFilter, apply_entry, list_claims
from services.claims.schemas import (
    BatchIn,
    BatchItemOut,
    BatchOut,
    ClaimListOut,
    ClaimOut,
    ContractOut,
    ContractRegistered,
    ContractVersionOut,
    EventIn,
    EventRecordedOut,
    ParticipantEventOut,
    ParticipantOut,
    RejectIn,
    VerifyIn,
)
from services.claims.settings import ClaimsSettings
from shared.auth import Principal, Role, check_contract_scope, require
from shared.errors import PROBLEM_RESPONSES, Forbidden, InvalidInput
from shared.eventstore import sqlalchemy_url
from shared.feed.envelope import MAX_PAGE_SIZE
from shared.feed.follower import Follower, LocalFeedSource
from shared.feed.server import feed_router
from shared.money import format_minor
from shared.rules.model import RuleBook, RuleBookInvalid, parse_rulebook
from shared.service import build_app
from shared.settings import CommonSettings
from shared.sqlviews import SqlSink, create_engine, migrate

MIGRATIONS = Path(__file__).parent / "migrations"
READERS = (Role.ADMIN, Role.AUDITOR, Role.VERIFIER)


def create_app(
    settings: ClaimsSettings | None = None, common: CommonSettings | None = None
) -> FastAPI:
    settings = settings or ClaimsSettings()
    common = common or CommonSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store_url = settings.store_url(common)
        application = ClaimsApplication(
            store_url,
            common.pseudonym_key.get_secret_value(),
            today=lambda: dt.datetime.now(dt.UTC).date(),
        )
        engine = create_engine(sqlalchemy_url(store_url))
        migrate(engine, MIGRATIONS, "alembic_version_claims")
        index_follower = Follower(
            "claims-index",
            LocalFeedSource(application.read_feed),
            SqlSink(engine, "claims", apply_entry),
            long_poll_s=0.5,
        )
        app.state.application, app.state.engine = application, engine
        index_follower.start()
        try:
            yield
        finally:
            index_follower.stop()
            application.close()
            engine.dispose()

    app = build_app(
        title="Outcomes claims service",
        description="Contracts, participant events and outcome claims.",
        common=common,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(feed_router(lambda request: request.app.state.application))
    _contract_routes(app)
    _intake_routes(app)
    _claim_routes(app)
    return app


def _app(request: Request) -> ClaimsApplication:
    application: ClaimsApplication = request.app.state.application
    return application


def _contract_routes(app: FastAPI) -> None:
    @app.post(
        "/v1/contracts",
        status_code=201,
        response_model=ContractRegistered,
        responses={
            **PROBLEM_RESPONSES,
            200: {"description": "This exact document was registered before"},
            409: {"description": "Conflicts with the registered contract"},
        },
        tags=["contracts"],
    )
    def register_contract(
        request: Request,
        response: Response,
        document: Annotated[
            dict[str, Any], Body(description="The rule book (see docs/rulebook.md)")
        ],
        _: Annotated[Principal, Depends(require(Role.ADMIN))],
    ) -> ContractRegistered:
        """Register a rule book; a changed document for an existing contract adds a version."""
        try:
            rulebook = parse_rulebook(document)
        except RuleBookInvalid as exc:
            raise InvalidInput("the rule book is invalid", exc.problems) from None
        version, created = _app(request).register_contract(rulebook)
        if not created:
            response.status_code = 200
        return ContractRegistered(contract_id=rulebook.contract_id, version=version)

    @app.get(
        "/v1/contracts/{contract_id}",
        response_model=ContractOut,
        responses=PROBLEM_RESPONSES,
        tags=["contracts"],
    )
    def get_contract(
        request: Request,
        contract_id: str,
        principal: Annotated[Principal, Depends(require(*Role))],
    ) -> ContractOut:
        check_contract_scope(principal, contract_id)
        contract = _app(request).contract(contract_id)
        latest = RuleBook.model_validate(contract.documents[-1])
        if principal.role is Role.PROVIDER and principal.provider_id not in latest.provider_ids():
            raise Forbidden(f"provider {principal.provider_id} is not part of this contract")
        return ContractOut(
            contract_id=contract_id,
            version=contract.current_version,
            rulebook=contract.documents[-1],
            versions=[
                ContractVersionOut(
                    version=index + 1,
                    effective_from=RuleBook.model_validate(document).effective_from,
                    document_sha256=contract.document_hashes[index],
                )
                for index, document in enumerate(contract.documents)
            ],
        )


def _incoming(event: EventIn) -> IncomingEvent:
    return IncomingEvent(
        event_id=event.event_id,
        participant_ref=event.participant_ref,
        type=event.type,
        occurred_on=event.occurred_on,
        attributes=dict(event.attributes),
    )


def _recorded(result: IntakeResult) -> dict[str, Any]:
    return {
        "event_id": result.event_id,
        "participant_id": result.participant_id,
        "position": result.position,
        "claim_ids": result.claim_ids,
    }


def _intake_routes(app: FastAPI) -> None:
    intake_errors = {
        **PROBLEM_RESPONSES,
        404: {"description": "Unknown contract"},
        409: {"description": "event_id reused with a different body"},
    }

    @app.post(
        "/v1/contracts/{contract_id}/events",
        status_code=201,
        response_model=EventRecordedOut,
        responses={**intake_errors, 200: {"description": "Recorded before with the same body"}},
        tags=["intake"],
    )
    def post_event(
        request: Request,
        response: Response,
        contract_id: str,
        event: EventIn,
        principal: Annotated[Principal, Depends(require(Role.PROVIDER))],
    ) -> EventRecordedOut:
        """Record one participant event and derive its claims, atomically and idempotently."""
        check_contract_scope(principal, contract_id)
        assert principal.provider_id is not None
        [result] = _app(request).record_events(
            contract_id, principal.provider_id, [_incoming(event)], principal.actor
        )
        if not result.created:
            response.status_code = 200
        return EventRecordedOut(**_recorded(result))

    @app.post(
        "/v1/contracts/{contract_id}/events/batch",
        status_code=201,
        response_model=BatchOut,
        responses=intake_errors,
        tags=["intake"],
    )
    def post_batch(
        request: Request,
        contract_id: str,
        batch: BatchIn,
        principal: Annotated[Principal, Depends(require(Role.PROVIDER))],
    ) -> BatchOut:
        """Record up to 1,000 events in one transaction: all of them, or none if any is refused."""
        check_contract_scope(principal, contract_id)
        assert principal.provider_id is not None
        results = _app(request).record_events(
            contract_id,
            principal.provider_id,
            [_incoming(e) for e in batch.events],
            principal.actor,
        )
        return BatchOut(
            results=[
                BatchItemOut(index=index, status=201 if r.created else 200, **_recorded(r))
                for index, r in enumerate(results)
            ]
        )

    @app.get(
        "/v1/contracts/{contract_id}/participants/{participant_id}",
        response_model=ParticipantOut,
        responses={**PROBLEM_RESPONSES, 404: {"description": "Unknown contract or participant"}},
        tags=["intake"],
    )
    def get_participant(
        request: Request,
        contract_id: str,
        participant_id: str,
        principal: Annotated[Principal, Depends(require(Role.PROVIDER, *READERS))],
    ) -> ParticipantOut:
        """A participant's events in occurred order, with the time each was recorded."""
        check_contract_scope(principal, contract_id)
        application = _app(request)
        participant = application.participant(contract_id, participant_id)
        if principal.role is Role.PROVIDER and participant.provider_id != principal.provider_id:
            raise Forbidden("a provider may read only its own participants")
        return _participant_out(application, participant)


def _participant_out(application: ClaimsApplication, participant: Participant) -> ParticipantOut:
    recorded = [
        event
        for event in application.events.get(participant.id)
        if isinstance(event, Participant.EventRecorded)
    ]
    events = [
        ParticipantEventOut(
            event_id=e.event_id,
            type=e.type,
            occurred_on=dt.date.fromisoformat(e.occurred_on),
            attributes=e.attributes,
            recorded_at=e.timestamp,
            stream_version=e.originator_version,
            actor=e.actor,
        )
        for e in recorded
    ]
    events.sort(key=lambda e: (e.occurred_on, e.event_id))
    return ParticipantOut(
        contract_id=participant.contract_id,
        participant_id=participant.participant_id,
        provider_id=participant.provider_id,
        events=events,
        claims=[
            {"claim_key": key, "claim_id": link["claim_id"]}  # type: ignore[misc]
            for key, link in sorted(participant.claims.items())
        ],
    )


def _claim_out(claim: Claim) -> ClaimOut:
    return ClaimOut(
        claim_id=str(claim.id),
        contract_id=claim.contract_id,
        provider_id=claim.provider_id,
        participant_id=claim.participant_id,
        outcome_id=claim.outcome_id,
        status=claim.status.value,
        occurred_on=dt.date.fromisoformat(claim.occurred_on),
        amount_minor=claim.amount_minor,
        amount=format_minor(claim.amount_minor, claim.currency),
        currency=claim.currency,
        contract_version=claim.contract_version,
        trigger_event_id=claim.trigger_event_id,
        source_event_ids=claim.source_event_ids,
        tier=claim.tier,
        trace=claim.trace,
    )


def _check_claim_access(principal: Principal, claim: Claim) -> None:
    if principal.role is Role.PROVIDER and claim.provider_id != principal.provider_id:
        raise Forbidden("a provider may read only its own claims")
    check_contract_scope(principal, claim.contract_id)


def _parse_claim_id(claim_id: str) -> UUID:
    try:
        return UUID(claim_id)
    except ValueError:
        raise ClaimNotFound(claim_id) from None


def _claim_routes(app: FastAPI) -> None:
    claim_errors = {**PROBLEM_RESPONSES, 404: {"description": "Unknown claim"}}

    @app.get(
        "/v1/claims", response_model=ClaimListOut, responses=PROBLEM_RESPONSES, tags=["claims"]
    )
    def get_claims(
        request: Request,
        principal: Annotated[Principal, Depends(require(Role.PROVIDER, Role.PAYER, *READERS))],
        contract_id: Annotated[str | None, Query(max_length=64)] = None,
        status: Annotated[str | None, Query(max_length=32)] = None,
        after: Annotated[
            int, Query(ge=0, description="Cursor: `next_after` of the previous page")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    ) -> ClaimListOut:
        """Claims in the order they were derived; the cursor never skips or repeats one."""
        claim_filter = _claim_filter(principal, contract_id, status)
        rows = list_claims(request.app.state.engine, claim_filter, after, limit)
        items = [
            ClaimOut(
                **{k: v for k, v in row.items() if k in ClaimOut.model_fields},
                amount=format_minor(row["amount_minor"], row["currency"]),
            )
            for row in rows
        ]
        next_after = rows[-1]["derived_position"] if len(rows) == limit else None
        return ClaimListOut(items=items, next_after=next_after)

    @app.get(
        "/v1/claims/{claim_id}", response_model=ClaimOut, responses=claim_errors, tags=["claims"]
    )
    def get_claim(
        request: Request,
        claim_id: str,
        principal: Annotated[Principal, Depends(require(Role.PROVIDER, Role.PAYER, *READERS))],
    ) -> ClaimOut:
        claim = _app(request).claim(_parse_claim_id(claim_id))
        _check_claim_access(principal, claim)
        return _claim_out(claim)

    decision_errors = {**claim_errors, 409: {"description": "The claim's state does not allow it"}}

    @app.post(
        "/v1/claims/{claim_id}/verify",
        response_model=ClaimOut,
        responses=decision_errors,
        tags=["claims"],
    )
    def verify_claim(
        request: Request,
        claim_id: str,
        principal: Annotated[Principal, Depends(require(Role.VERIFIER))],
        body: VerifyIn | None = None,
    ) -> ClaimOut:
        """Verify a submitted claim; the ledger books it from the feed."""
        note = body.note if body else ""
        return _claim_out(_app(request).verify(_parse_claim_id(claim_id), principal.actor, note))

    @app.post(
        "/v1/claims/{claim_id}/reject",
        response_model=ClaimOut,
        responses=decision_errors,
        tags=["claims"],
    )
    def reject_claim(
        request: Request,
        claim_id: str,
        body: RejectIn,
        principal: Annotated[Principal, Depends(require(Role.VERIFIER))],
    ) -> ClaimOut:
        return _claim_out(
            _app(request).reject(_parse_claim_id(claim_id), principal.actor, body.reason)
        )


def _claim_filter(principal: Principal, contract_id: str | None, status: str | None) -> ClaimFilter:
    if contract_id is not None:
        check_contract_scope(principal, contract_id)
    if principal.role is Role.PAYER:
        return ClaimFilter(
            contract_id=contract_id, status=status, contract_ids=principal.contract_ids
        )
    if principal.role is Role.PROVIDER:
        return ClaimFilter(
            contract_id=contract_id,
            status=status,
            provider_id=principal.provider_id,
            contract_ids=principal.contract_ids or None,
        )
    return ClaimFilter(contract_id=contract_id, status=status)
