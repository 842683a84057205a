"""The baseline server: a bare FastAPI endpoint doing one INSERT per request.

Same server stack as the services (uvicorn, one worker, a synchronous endpoint on the thread
pool, SQLAlchemy's pool of 8 + 8 psycopg connections), and nothing else: no token, no
validation beyond JSON, no event store, no derivation. Started by ``bench.intake`` as

    BARE_DATABASE_URL=postgresql://… uvicorn --factory bench.bare:create_app
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import Body, FastAPI, Request

from shared.sqlviews import create_engine

DDL = (
    "CREATE TABLE IF NOT EXISTS bare_events ("
    " id BIGSERIAL PRIMARY KEY, received_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " body JSONB NOT NULL)"
)
INSERT = sa.text("INSERT INTO bare_events (body) VALUES (CAST(:body AS JSONB)) RETURNING id")


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = os.environ["BARE_DATABASE_URL"]
        engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
        with engine.begin() as connection:
            connection.execute(sa.text(DDL))
        app.state.engine = engine
        yield
        engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/events", status_code=201)
    def post_event(request: Request, event: dict[str, Any] = Body()) -> dict[str, int]:  # noqa: B008
        with request.app.state.engine.begin() as connection:
            position = connection.execute(INSERT, {"body": json.dumps(event)}).scalar_one()
        return {"position": int(position)}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
