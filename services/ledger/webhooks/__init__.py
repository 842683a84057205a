"""Webhooks: push what the ledger books to payers' and providers' systems.

``messages`` turns the ledger's feed into webhook messages, ``store`` keeps subscriptions and
their deliveries (an outbox, filled by a follower of the ledger's own feed), ``targets`` checks
where a message may be sent, and ``dispatch`` sends them, signed, in order, with retries.
"""
