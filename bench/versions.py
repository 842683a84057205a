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
"""

from __future__ import annotations

import argparse
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
            figures = alternate(modes, args.seconds, args.connections, args.rounds)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                check=False, capture_output=True,
            )  # fmt: skip
    found = ratio(figures)
    print(f"this / {args.against}: {found:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
