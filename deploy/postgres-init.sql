-- One database per service: no service reads another's tables.
CREATE DATABASE outcomes_claims;
CREATE DATABASE outcomes_ledger;
CREATE DATABASE outcomes_metrics;
