"""The composition root: config, logging, and the wiring that builds stores, connectors and
pair contexts. The only layer that names a concrete connector."""
