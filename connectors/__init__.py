"""Connector adapters: each CRM behind the small :class:`sync_worker.connectors.base.Connector`
Protocol."""
