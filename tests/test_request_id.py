"""Issue 21, point 3 (its request id): every answer carries an ``X-Request-ID`` (the caller's
when it is plain, else a new one, never a malformed one echoed), and every problem+json body
names it as ``request_id``, refusals made before any route included."""

from __future__ import annotations

import re
from pathlib import Path

from services.claims.api import create_app
from services.claims.settings import ClaimsSettings
from shared.auth import Role, TokenSigner
from shared.settings import CommonSettings
from tests.conftest import serving

MADE = re.compile(r"[0-9a-f]{32}")


async def test_every_answer_and_every_problem_names_the_request(tmp_path: Path) -> None:
    common = CommonSettings(env="test", data_dir=tmp_path)
    admin = {"Authorization": f"Bearer {TokenSigner.from_settings(common).issue(Role.ADMIN)}"}
    settings = ClaimsSettings(max_body_bytes=1024)
    async with serving(create_app(settings, common)) as client:
        made = await client.get("/healthz")
        assert MADE.fullmatch(made.headers["x-request-id"])
        kept = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2:x"})
        assert kept.headers["x-request-id"] == "lb-7f3a.2:x"
        for malformed in ("x" * 129, "a b", "id;drop", "é"):
            replaced = await client.get(
                "/healthz", headers={"X-Request-ID": malformed.encode("utf-8")}
            )
            assert MADE.fullmatch(replaced.headers["x-request-id"]), malformed

        problems = {
            "route (404)": await client.get("/v1/contracts/nope", headers=admin),
            "token (401)": await client.get("/v1/contracts"),
            "parameter guard (422)": await client.get("/v1/claims?contract_id=%00", headers=admin),
            "JSON guard (422)": await client.post(
                "/v1/contracts/ips-employment/events",
                content=b'{"a": 1, "a": 2}',
                headers={**admin, "Content-Type": "application/json"},
            ),
            "body limit (413)": await client.post(
                "/v1/contracts",
                content=b"x" * 4000,
                headers={**admin, "Content-Type": "application/yaml"},
            ),
        }
        for where, answer in problems.items():
            assert answer.headers["content-type"] == "application/problem+json", where
            assert answer.json()["request_id"] == answer.headers["x-request-id"], where
            assert MADE.fullmatch(answer.headers["x-request-id"]), where
        quoted = await client.get(
            "/v1/contracts/nope", headers={**admin, "X-Request-ID": "support-ticket-42"}
        )
        assert quoted.json()["request_id"] == "support-ticket-42"
