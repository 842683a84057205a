"""The ledger's read models: SQL tables built from its own feed (the transaction index)."""
