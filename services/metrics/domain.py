"""Metrics domain: the service's own events.

Metrics builds its reports from the claims (and, later, ledger) feeds; it records no events of
its own yet, so its feed is empty. Figures that providers post to metrics directly (such as
staffing whole-time equivalents) will be aggregates here and appear on its feed.
"""

from __future__ import annotations

from shared.feed.envelope import EventCatalogue

CATALOGUE = EventCatalogue({})
