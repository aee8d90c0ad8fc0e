"""One cycle of one pair: pull both sides, sort each page, reconcile, push, record what landed
in one commit per page. Talks to CRMs only through the connector port."""
