"""A progress bar for long command-line runs (rebuilds, audits), written to standard error.

On a terminal it redraws one line; elsewhere (CI logs, pipes) it prints a line at each tenth.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty()
        self._started = time.monotonic()
        self._last_tenth = -1
        self._done = 0

    def update(self, done: int, total: int | None, count: int) -> None:
        """``done`` out of ``total`` positions read; ``count`` entries applied so far."""
        self._done = count
        share = min(1.0, done / total) if total else 1.0
        tenth = int(share * 10)
        if not self._interactive and tenth == self._last_tenth:
            return
        self._last_tenth = tenth
        filled = int(share * WIDTH)
        rate = count / max(time.monotonic() - self._started, 1e-6)
        line = (
            f"{self._label} [{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%} "
            f"{count:,} entries, {rate:,.0f}/s"
        )
        if self._interactive:
            self._stream.write("\r" + line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def finish(self) -> None:
        """The source has nothing more: the run is complete, whatever the estimate said."""
        self._last_tenth = -1
        self.update(1, 1, self._done)
        elapsed = time.monotonic() - self._started
        end = "\n" if self._interactive else ""
        self._stream.write(f"{end}{self._label}: {self._done:,} entries in {elapsed:.1f}s\n")
        self._stream.flush()
