"""The ledger's routes, one module per resource."""
