"""``GET /feed``: the read side of the feed protocol, mounted by every service."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from shared import openapi_examples as examples
from shared.auth import Principal, Role, require_unscoped
from shared.errors import PROBLEM_RESPONSES, FieldProblem, InvalidInput
from shared.feed.digest import digest_upto
from shared.feed.envelope import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_POSITION,
    MAX_WAIT_S,
    FeedEntry,
    FeedPage,
)
from shared.longpoll import long_poll

MAX_TYPES = 50


class FeedReader(Protocol):
    def read_feed(
        self, after: int, limit: int, types: Collection[str] | None = None
    ) -> list[FeedEntry]: ...

    def public_types(self) -> set[str]: ...

    def head_position(self) -> int: ...


def feed_router(reader_of: Callable[[Request], FeedReader]) -> APIRouter:
    router = APIRouter(tags=["feed"])

    @router.get(
        "/feed",
        summary="Read the feed (long-poll)",
        response_model=FeedPage,
        responses=PROBLEM_RESPONSES,
    )
    async def read_feed(
        request: Request,
        _: Annotated[Principal, Depends(require_unscoped(Role.SERVICE, Role.AUDITOR, Role.ADMIN))],
        after: Annotated[
            int, Query(ge=0, le=MAX_POSITION, description="Return entries after this position")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
        wait_s: Annotated[
            float, Query(ge=0, le=MAX_WAIT_S, description="Long-poll up to this long if empty")
        ] = 0,
        types: Annotated[
            list[str] | None,
            Query(
                max_length=MAX_TYPES,
                description="Only entries of these types (repeat the parameter); all if absent",
            ),
        ] = None,
    ) -> Response:
        """Entries after a position, in position order; long-polls when ``wait_s`` is set.
        With ``types``, a follower reads only what it applies (positions keep their gaps)."""
        reader = reader_of(request)
        if types is not None:
            unknown = sorted(set(types) - reader.public_types())
            if unknown:
                raise InvalidInput(
                    "unknown feed types",
                    [FieldProblem("types", f"not on this feed: {', '.join(unknown)}")],
                )
        items = await long_poll(
            request, lambda: reader.read_feed(after, limit, types), bool, wait_s,
            getattr(reader, "feed_signal", None),
        )  # fmt: skip
        head = await run_in_threadpool(reader.head_position)
        last = items[-1].position if items else None
        page = FeedPage(items=items, last_position=last, head_position=max(head, last or 0))
        # the page is a model already: serialised once, not validated again as a response model
        return Response(page.model_dump_json(), media_type="application/json")

    return router


class DigestOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DIGEST_OUT]})
    upto: int = Field(description="Position of the last entry included (0: none)")
    entries: int
    digest: str
    algorithm: str


def digest_router(reader_of: Callable[[Request], FeedReader]) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get(
        "/v1/audit/digest",
        summary="Read the feed's audit digest",
        response_model=DigestOut,
        responses=PROBLEM_RESPONSES,
    )
    def get_digest(
        request: Request,
        _: Annotated[Principal, Depends(require_unscoped(Role.AUDITOR, Role.ADMIN))],
        upto: Annotated[
            int | None,
            Query(ge=0, le=MAX_POSITION, description="Last position to include [the head]"),
        ] = None,
    ) -> DigestOut:
        """SHA-256 hash chain over the feed up to a position (see docs/audit.md). Store it;
        the same call later gives the same digest unless history before it was changed."""
        reader = reader_of(request)
        found = digest_upto(reader.read_feed, reader.head_position() if upto is None else upto)
        return DigestOut(**vars(found))

    return router
