"""What the metrics routes share: who the caller may see, and the report query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Query, Request

from services.metrics.application import (
    MetricsApplication,
    Reporter,
    ReportRequest,
    contract_providers,
)
from services.metrics.readmodels.cube import Filters
from services.metrics.splits import Split
from shared.auth import (
    Principal,
    Role,
    check_contract_scope,
    require,
    require_bearer_or_session,
)
from shared.errors import Forbidden
from shared.moments import KnownAt
from shared.periods import Period

MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
FLAG = r"^[A-Za-z_][A-Za-z0-9_]{0,63}:[^;=]{1,120}$"
SPLIT = r"^(provider|site|cohort|caseworker|flag:[A-Za-z_][A-Za-z0-9_]{0,63})$"
CASEWORKER_ID = r"^(w_[0-9a-f]{32}|unknown)$"
READER_ROLES = (Role.ADMIN, Role.AUDITOR, Role.PAYER, Role.PROVIDER, Role.VERIFIER)


def reporter(request: Request) -> Reporter:
    found: Reporter = request.app.state.reporter
    return found


def metrics_app(request: Request) -> MetricsApplication:
    found: MetricsApplication = request.app.state.application
    return found


SESSION_COOKIE = "outcomes_dashboard"  # a browser's dashboard session (see routes/dashboard.py)


def _may_read(request: Request, contract_id: str, principal: Principal) -> Principal:
    """A caller who may read this contract's reports; a provider must be one of its providers."""
    check_contract_scope(principal, contract_id)
    if principal.role is Role.PROVIDER and principal.provider_id not in contract_providers(
        request.app.state.engine, contract_id
    ):
        raise Forbidden(f"provider {principal.provider_id} is not part of contract {contract_id}")
    return principal


def contract_reader(
    request: Request,
    contract_id: str,
    principal: Annotated[Principal, Depends(require(*READER_ROLES))],
) -> Principal:
    """A caller with a bearer token who may read this contract's reports."""
    return _may_read(request, contract_id, principal)


def page_reader(
    request: Request,
    contract_id: str,
    principal: Annotated[
        Principal, Depends(require_bearer_or_session(SESSION_COOKIE, *READER_ROLES))
    ],
) -> Principal:
    """A caller who may read this contract's reports, with a bearer token or a browser's
    dashboard session. A token that names contracts covers those only, whatever its role (a
    session always names its one contract)."""
    if principal.contract_ids and contract_id not in principal.contract_ids:
        raise Forbidden(f"this token does not cover contract {contract_id}")
    return _may_read(request, contract_id, principal)


Reader = Annotated[Principal, Depends(contract_reader)]
PageReader = Annotated[Principal, Depends(page_reader)]


def contract_provider(
    request: Request,
    contract_id: str,
    principal: Annotated[Principal, Depends(require(Role.PROVIDER))],
) -> Principal:
    """A provider of this contract (checked before the body is read)."""
    return contract_reader(request, contract_id, principal)


ProviderCaller = Annotated[Principal, Depends(contract_provider)]


def asked_by(reader: Callable[..., Principal]) -> Callable[..., ReportRequest]:
    """The report query, for a route whose callers ``reader`` lets in."""

    def report_request(  # annotations are strings here: the reader is given as a default
        contract_id: str,
        principal: Principal = Depends(reader),  # noqa: B008
        month: Annotated[
            str | None, Query(pattern=MONTH, description="Reporting month [the current one]")
        ] = None,
        provider_id: Annotated[str | None, Query(max_length=64)] = None,
        site: Annotated[str | None, Query(max_length=200)] = None,
        cohort: Annotated[
            str | None,
            Query(pattern=r"^([0-9]{4}-(0[1-9]|1[0-2])|none)$", description="YYYY-MM"),
        ] = None,
        as_known_at: KnownAt = None,
        period: Annotated[
            Period,
            Query(
                description="The span of per-period figures (caseload per WTE, the trends' "
                "periods, the cohorts, the rates' period denominator): the month, or the "
                "quarter or reporting year holding it, to the month's end [month]"
            ),
        ] = Period.MONTH,
        flag: Annotated[
            str | None,
            Query(
                pattern=FLAG,
                max_length=200,
                description="Participants with a flag value, `attribute:value` "
                "(e.g. `long_term_unemployed:true`)",
            ),
        ] = None,
        caseworker: Annotated[
            str | None,
            Query(
                pattern=CASEWORKER_ID,
                max_length=40,
                description="Participants of one caseworker: its pseudonym (`w_…`, see "
                "`POST /v1/contracts/{id}/caseworker-ids` on claims), or `unknown`",
            ),
        ] = None,
        split: Annotated[
            str | None,
            Query(
                pattern=SPLIT,
                max_length=80,
                description="One report per `provider`, `site`, `cohort`, `caseworker` or "
                "`flag:<attribute>` value, with the columns `split_by` and `split_value` first",
            ),
        ] = None,
    ) -> ReportRequest:
        """The report asked for; a provider always sees its own figures only."""
        if principal.role is Role.PROVIDER:
            provider_id = principal.provider_id
        flag_filter = None
        if flag is not None:
            name, _, value = flag.partition(":")
            flag_filter = (name, value)
        filters = Filters(provider_id, site, cohort, flag_filter, caseworker)
        return ReportRequest(
            contract_id,
            filters,
            month,
            as_known_at,
            period,
            Split.parse(split) if split is not None else None,
        )

    return report_request


Asked = Annotated[ReportRequest, Depends(asked_by(contract_reader))]
PageAsked = Annotated[ReportRequest, Depends(asked_by(page_reader))]
