"""The claims service's read models: SQL tables built from its own feed (the claim index)."""
