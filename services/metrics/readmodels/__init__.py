"""Metrics' read models: SQL tables built from the claims and ledger feeds (participant events,
the report cube, money), and the cube's reader."""
