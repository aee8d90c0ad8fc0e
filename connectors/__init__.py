"""Connector adapters: each CRM behind the small :class:`connectors.base.Connector` Protocol."""
