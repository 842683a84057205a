"""What uvloop and httptools (uvicorn's fast event loop and HTTP parser, used when installed:
issue 20, point 3) give a single-event POST, against the same service on asyncio and h11 in
the same run.

    .venv/bin/python -m bench.server_stack [--seconds 15] [--connections 64] [--rounds 6]

P1 of ``bench/intake.py`` against ``outcomes serve claims`` on a fresh PostgreSQL database a
round, alternating ``UVICORN_LOOP=uvloop UVICORN_HTTP=httptools`` (what uvicorn picks by
itself when both are installed) and ``UVICORN_LOOP=asyncio UVICORN_HTTP=h11`` (what it ran on
before they were). Reported as ``bench/observability.py`` reports: medians, the ratio, and
each round's.
"""

from __future__ import annotations

import sys

from bench.observability import alternate, parsed, ratio


def main() -> int:
    args = parsed(__doc__ or "")
    modes = {
        "fast": {"extra_env": {"UVICORN_LOOP": "uvloop", "UVICORN_HTTP": "httptools"}},
        "plain": {"extra_env": {"UVICORN_LOOP": "asyncio", "UVICORN_HTTP": "h11"}},
    }
    found = ratio(alternate(modes, args.seconds, args.connections, args.rounds))
    print(f"fast/plain: {found:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
