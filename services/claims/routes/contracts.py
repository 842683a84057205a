"""Contract routes: register rule books (YAML or JSON), read versions, diff them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from services.claims.application import ClaimsApplication
from services.claims.domain import Contract
from services.claims.errors import ContractNotFound
from services.claims.readmodels.claim_index import contract_ids
from services.claims.schemas import (
    ChangeOut,
    ContractListOut,
    ContractOut,
    ContractRegistered,
    ContractSummaryOut,
    ContractVersionOut,
    DiffOut,
)
from shared.auth import Principal, Role, check_contract_scope, require
from shared.collector import fewer_collections
from shared.errors import (
    PROBLEM_RESPONSES,
    FieldProblem,
    Forbidden,
    InvalidInput,
    PayloadTooLarge,
)
from shared.identifiers import PUBLIC_ID_PATTERN
from shared.rules.diff import diff_documents
from shared.rules.model import RuleBook, RuleBookInvalid, parse_rulebook
from shared.rules.source import DocumentUnreadable, SourceDocument, read_document

router = APIRouter(tags=["contracts"])
RULEBOOK_BODY = {
    "requestBody": {
        "required": True,
        "description": "A rule book (docs/rulebook.md) as JSON or YAML",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


def _app(request: Request) -> ClaimsApplication:
    application: ClaimsApplication = request.app.state.application
    return application


async def rulebook_of(request: Request) -> RuleBook:
    """The request's rule book, refused over the size limit (413) and otherwise read and
    validated in a worker thread, so a large or hostile document never holds up the event
    loop: other requests, health included, go on being answered meanwhile."""
    limit: int = request.app.state.rulebook_max_bytes
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(
            f"a rule book is at most {limit} bytes (CLAIMS_RULEBOOK_MAX_BYTES); this one is "
            f"{len(body)}",
            extra={"limit_bytes": limit},
        )
    return await run_in_threadpool(read_rulebook, body)


def read_rulebook(body: bytes) -> RuleBook:
    with fewer_collections():
        return _read_rulebook(body)


def _read_rulebook(body: bytes) -> RuleBook:
    try:
        source = read_document(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("the rule book is not UTF-8 text") from None
    except DocumentUnreadable as exc:
        raise InvalidInput("the rule book cannot be read", exc.problems) from None
    try:
        return parse_rulebook(source.data)
    except RuleBookInvalid as exc:
        raise InvalidInput("the rule book is invalid", _with_lines(source, exc.problems)) from None


def _with_lines(source: SourceDocument, problems: list[FieldProblem]) -> list[FieldProblem]:
    return [FieldProblem(p.field, p.message, source.line_of(p.field)) for p in problems]


@router.post(
    "/v1/contracts",
    summary="Register a contract's rule book",
    status_code=201,
    response_model=ContractRegistered,
    responses={
        **PROBLEM_RESPONSES,
        200: {"description": "This exact document was registered before"},
        409: {"description": "Conflicts with the registered contract"},
    },
    openapi_extra=RULEBOOK_BODY,
)
async def register_contract(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require(Role.ADMIN))],
) -> ContractRegistered:
    """Register a rule book; a changed document for an existing contract adds a version.

    Problems are listed all at once, each with the field's path and, where known, its line.
    An admin token limited to contracts may register only those.
    """
    rulebook = await rulebook_of(request)
    check_contract_scope(principal, rulebook.contract_id)
    version, created = await run_in_threadpool(_app(request).contracts.register, rulebook)
    if not created:
        response.status_code = 200
    return ContractRegistered(contract_id=rulebook.contract_id, version=version)


@router.get(
    "/v1/contracts",
    summary="List the contracts you may see",
    response_model=ContractListOut,
    responses=PROBLEM_RESPONSES,
)
def list_contracts(
    request: Request,
    principal: Annotated[Principal, Depends(require(*Role))],
    after: Annotated[
        str | None,
        Query(max_length=64, pattern=PUBLIC_ID_PATTERN, description="The last contract id seen"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ContractListOut:
    """The contracts this caller may see, by id: every contract for an unscoped admin,
    auditor, verifier or service token; a token's own contracts when it is limited to some
    (payers and evaluators always are); for a provider, the contracts it is part of. A
    contract appears here within a second of being registered."""
    items: list[ContractSummaryOut] = []
    application = _app(request)
    for contract_id in contract_ids(request.app.state.engine, after=after):
        if not principal.may_act_on_contract(contract_id):
            continue
        rulebook = application.contracts.latest_rulebook(contract_id)
        providers = [provider.id for provider in rulebook.providers]
        if principal.role is Role.PROVIDER and principal.provider_id not in providers:
            continue
        items.append(
            ContractSummaryOut(
                contract_id=contract_id,
                name=rulebook.name,
                currency=rulebook.currency,
                version=application.contracts.get(contract_id).current_version,
                effective_from=rulebook.effective_from,
                contract_end=rulebook.contract_end,
                provider_ids=providers,
            )
        )
        if len(items) == limit:
            return ContractListOut(items=items, next_after=contract_id)
    return ContractListOut(items=items, next_after=None)


def _readable_contract(request: Request, principal: Principal, contract_id: str) -> Contract:
    check_contract_scope(principal, contract_id)
    contract = _app(request).contracts.get(contract_id)
    latest = _app(request).contracts.latest_rulebook(contract_id)
    if principal.role is Role.PROVIDER and principal.provider_id not in latest.provider_ids():
        raise Forbidden(f"provider {principal.provider_id} is not part of this contract")
    return contract


def _versions(contract: Contract) -> list[ContractVersionOut]:
    return [
        ContractVersionOut(
            version=index + 1,
            effective_from=RuleBook.model_validate(document).effective_from,
            document_sha256=contract.document_hashes[index],
        )
        for index, document in enumerate(contract.documents)
    ]


def _document(contract: Contract, version: int) -> dict[str, Any]:
    if not 1 <= version <= contract.current_version:
        raise ContractNotFound(f"{contract.contract_id} version {version}")
    return contract.documents[version - 1]


Reader = Annotated[Principal, Depends(require(*Role))]


@router.get(
    "/v1/contracts/{contract_id}",
    summary="Read a contract's current rule book",
    response_model=ContractOut,
    responses=PROBLEM_RESPONSES,
)
def get_contract(request: Request, contract_id: str, principal: Reader) -> ContractOut:
    """The newest version of a contract's rule book, and the list of its versions."""
    contract = _readable_contract(request, principal, contract_id)
    return ContractOut(
        contract_id=contract_id,
        version=contract.current_version,
        rulebook=contract.documents[-1],
        versions=_versions(contract),
    )


@router.get(
    "/v1/contracts/{contract_id}/versions",
    summary="List a contract's rule-book versions",
    response_model=list[ContractVersionOut],
    responses=PROBLEM_RESPONSES,
)
def get_versions(request: Request, contract_id: str, principal: Reader) -> list[ContractVersionOut]:
    """Every version with its effective date and the SHA-256 of its canonical document."""
    return _versions(_readable_contract(request, principal, contract_id))


@router.get(
    "/v1/contracts/{contract_id}/versions/{version}",
    summary="Read one rule-book version",
    response_model=dict[str, Any],
    responses=PROBLEM_RESPONSES,
)
def get_version(
    request: Request, contract_id: str, version: int, principal: Reader
) -> dict[str, Any]:
    """One version's rule book, exactly as registered (canonical form)."""
    return _document(_readable_contract(request, principal, contract_id), version)


@router.get(
    "/v1/contracts/{contract_id}/diff",
    summary="Compare two rule-book versions",
    response_model=DiffOut,
    responses=PROBLEM_RESPONSES,
)
def get_diff(
    request: Request,
    contract_id: str,
    principal: Reader,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    """What changed between two versions, field by field (items with ids matched by id)."""
    contract = _readable_contract(request, principal, contract_id)
    changes = diff_documents(_document(contract, from_version), _document(contract, to_version))
    return DiffOut(
        contract_id=contract_id,
        from_version=from_version,
        to_version=to_version,
        changes=[
            ChangeOut(path=c.path, kind=c.kind, before=c.before, after=c.after) for c in changes
        ],
        text="\n".join(c.describe() for c in changes),
    )
