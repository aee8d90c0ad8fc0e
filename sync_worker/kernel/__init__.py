"""The kernel: plain values every layer shares (records, sides, errors, the clock, canonical
field values, scope filters). Imports nothing else of the worker."""
