"""The rules: pure decisions. A mapping says what syncs and how; reconcile turns two records and
their base into a plan with a reason on every item. No I/O, no logging, no clock."""
