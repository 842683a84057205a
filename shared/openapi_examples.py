"""Examples of the bodies every service gives (a feed page, a digest, the access trail,
readiness) for the OpenAPI documents; tests/test_openapi_problems.py checks each one."""

from __future__ import annotations

from typing import Any

DIGEST_OUT: dict[str, Any] = {
    "upto": 37,
    "entries": 25,
    "digest": "ad1e344305c5107917ce0c5d564ea24dc43240980aba067137dec9e717a4106b",
    "algorithm": "sha256-chain-v1",
}

FEED_PAGE: dict[str, Any] = {
    "items": [
        {
            "position": 3,
            "type": "participant.event_recorded",
            "schema_version": 2,
            "stream_id": "b429f1e9-f2df-56b7-8f38-31745d757e41",
            "stream_version": 2,
            "recorded_at": "2026-12-01T10:35:56.781456Z",
            "data": {
                "event_id": "ev-1",
                "type": "referral",
                "occurred_on": "2026-03-02",
                "attributes": {},
                "body_sha256": "cfe25158cc5bbd978829e16c38755fd1cf60073d1e246ee9bcd451cb96ef8f3a",
                "actor": "provider:northside-cms",
                "personal_sealed": None,
            },
            "traceparent": None,
        },
        {
            "position": 5,
            "type": "participant.event_recorded",
            "schema_version": 2,
            "stream_id": "b429f1e9-f2df-56b7-8f38-31745d757e41",
            "stream_version": 3,
            "recorded_at": "2026-12-01T10:35:56.828252Z",
            "data": {
                "event_id": "ev-2",
                "type": "enrollment",
                "occurred_on": "2026-03-09",
                "attributes": {},
                "body_sha256": "c4bb5b87ff3a434b21c7ad450598eb366454dec4047a85b66f12f4129b4a330c",
                "actor": "provider:northside-cms",
                "personal_sealed": None,
            },
            "traceparent": None,
        },
    ],
    "last_position": 5,
    "head_position": 85,
}

READY_OUT: dict[str, Any] = {
    "status": "ready",
    "checks": [
        {"name": "database", "ok": True, "detail": "answered in 2 ms"},
        {"name": "migrations", "ok": True, "detail": "at head 2026_12_01_0006"},
    ],
}

TRAIL_ENTRY_OUT: dict[str, Any] = {
    "id": 1,
    "at": "2026-12-01T10:35:56.708837Z",
    "actor": "admin:alice",
    "method": "POST",
    "path": "/v1/contracts",
    "query": "",
    "status": 201,
    "duration_ms": 30,
}
