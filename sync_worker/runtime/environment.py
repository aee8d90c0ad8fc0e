"""Which ``SYNC_WORKER_*`` environment variables mean something, and the nearest one to a typo.

pydantic-settings ignores a variable it cannot place, so ``SYNC_WORKER_WORKR__LOG_LEVEL=debug``
or ``SYNC_WORKER_ENDPOINTS__REPP__TOKEN=...`` would silently do nothing (or define an endpoint
nobody uses). Every variable with the prefix must name a key: ``SYNC_WORKER_<SECTION>__<KEY>``
for ``[worker]``, ``SYNC_WORKER_<SECTION>__<NAME>__<KEY>`` for an endpoint or pair the config
file defines (a ``-`` in its name written ``_``), or one of :data:`OTHER_VARIABLES`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

OTHER_VARIABLES = frozenset(
    {
        "SYNC_WORKER_CONFIG",  # where the config file is
        "SYNC_WORKER_TEST_PG_URL",  # the test suite's PostgreSQL (CI exports it)
    }
)


def variable(prefix: str, *path: str) -> str:
    """``variable("SYNC_WORKER_", "pairs", "agency-001", "enabled")`` is
    ``SYNC_WORKER_PAIRS__AGENCY_001__ENABLED`` (shells cannot export a name with ``-``)."""
    return prefix + "__".join(part.lower().replace("-", "_").upper() for part in path)


def valid_variables(
    prefix: str,
    sections: Mapping[str, type[BaseModel]],
    named: Mapping[str, tuple[type[BaseModel], Iterable[str]]],
) -> set[str]:
    """Every variable that sets a key: ``sections`` are single tables (``worker``); ``named``
    maps a table of tables (``endpoints``) to its model and the names the file defines."""
    valid = set(OTHER_VARIABLES)
    for section, model in sections.items():
        valid |= {variable(prefix, section, key) for key in model.model_fields}
    for section, (model, names) in named.items():
        for name in names:
            valid |= {variable(prefix, section, name, key) for key in model.model_fields}
    return valid


def unknown_variables(
    prefix: str, environ: Mapping[str, str], valid: set[str]
) -> list[tuple[str, str | None]]:
    """``(variable, nearest valid one or None)`` for each prefixed variable that sets nothing.

    Names compare upper-cased, as pydantic-settings reads them (case-insensitively)."""
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(prefix) or upper in valid:
            continue
        nearest = difflib.get_close_matches(upper, sorted(valid), n=1, cutoff=0.6)
        found.append((name, nearest[0] if nearest else None))
    return found


def table_names(data: Mapping[str, Any], section: str) -> list[str]:
    """The names of ``[section.NAME]`` tables in a parsed config file."""
    tables = data.get(section)
    return [str(name) for name in tables] if isinstance(tables, Mapping) else []
