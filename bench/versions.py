"""This checkout's single-event POST against another version's, in the same run: the ratio that
says what a change to the request path gave (issue 20, point 3).

    .venv/bin/python -m bench.versions --against REV [--seconds 15] [--connections 64] [--rounds 6]
    .venv/bin/python -m bench.versions --against REV --batch 1000 --connections 1   # P2

``REV`` (a commit, tag or branch) is checked out into a temporary git worktree, and P1 of
``bench/intake.py`` runs against ``outcomes serve claims`` from this checkout and from that
worktree in turn, each round on a fresh PostgreSQL database, alternating which goes first
(``bench/observability.py``'s rounds). Both run on this checkout's virtual environment, so
``REV`` must need no other packages. With ``--batch N`` each request posts N events to
``…/events/batch`` instead (P2 of ``bench/intake.py`` is ``--batch 1000 --connections 1``),
and the figures are requests (batches) a second. Reported as ``bench/observability.py``
reports: medians, the ratio of this checkout's to ``REV``'s, and each round's.

    .venv/bin/python -m bench.versions --against REV --in-process 20000 [--rounds 4]

times recording instead, with no HTTP and no followers: each round runs ``bench/growth.py``
(N participants' journeys through the claims application's intake, batches of 1,000, on a
fresh PostgreSQL database) from this checkout and from the worktree in turn, alternating which
goes first, and compares their events a second.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.observability import alternate, ratio

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--against", required=True, help="the commit to compare with")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch", type=int, default=0, help="events a request (0: one, P1)")
    parser.add_argument(
        "--in-process", type=int, default=0, metavar="N", help="time intake of N participants"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        worktree = Path(folder, "against")
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.against],
            check=True, capture_output=True,
        )  # fmt: skip
        modes = {
            "this": {"source": str(ROOT), "batch": args.batch},
            args.against[:12]: {"source": str(worktree), "batch": args.batch},
        }
        try:
            if args.in_process:
                sources = {label: mode["source"] for label, mode in modes.items()}
                return recording_rounds(sources, args.in_process, args.rounds)
            figures = alternate(modes, args.seconds, args.connections, args.rounds)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                check=False, capture_output=True,
            )  # fmt: skip
    found = ratio(figures)
    print(f"this / {args.against}: {found:.2f}")
    return 0


def recording_rounds(sources: dict[str, str], participants: int, rounds: int) -> int:
    """``bench/growth.py`` from each source in turn, alternating; prints events a second."""
    rates: dict[str, list[float]] = {label: [] for label in sources}
    first, second = sources
    for number in range(rounds):
        for label in (first, second) if number % 2 == 0 else (second, first):
            command = [sys.executable, "-m", "bench.growth", f"--participants={participants}"]
            done = subprocess.run(
                command, cwd=sources[label], env={**os.environ, "PYTHONPATH": sources[label]},
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            rate = re.search(r"\(([\d,]+) events/s\)", done.stdout)
            assert rate is not None, done.stdout[-500:]
            rates[label].append(float(rate.group(1).replace(",", "")))
            print(f"round {number + 1}, {label:>12}: {rates[label][-1]:,.0f} events/s", flush=True)
    medians = {label: statistics.median(found) for label, found in rates.items()}
    each = [f"{x / y:.2f}" for x, y in zip(rates[first], rates[second], strict=True)]
    found = medians[first] / medians[second]
    print(f"median: {first} {medians[first]:,.0f} events/s, {second} {medians[second]:,.0f}; "
          f"{first}/{second} {found:.3f} (rounds: {', '.join(each)})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
