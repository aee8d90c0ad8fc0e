"""Pydantic validation errors as the config loader reports them: one line per problem, naming
the key path and what is allowed, never echoing a secret."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError


def format_validation_error(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per pydantic error: ``key.path: what is wrong (what is allowed)``."""
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            valid = _valid_keys(model, error["loc"][:-1])
            lines.append(f"{loc}: unknown key; valid keys here: {', '.join(valid)}")
            continue
        message = error["msg"]
        if not _SECRET_KEY.search(loc) and error["type"] not in ("missing",):
            message += f" (got {_shown(error.get('input'))})"
        lines.append(f"{loc}: {message}")
    return lines


_SECRET_KEY = re.compile(r"token|secret|password", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*):\S*@")  # greedy: to the last @


def _shown(value: object) -> str:
    """A rejected input as an error line shows it: any password inside a URL masked."""
    return _URL_PASSWORD.sub(r"\1:***@", repr(value))


def _valid_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    current: Any = model
    in_dict = False
    for part in loc:
        if in_dict:  # ``part`` is an endpoint or pair name: stay on the dict's value model
            in_dict = False
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return []
        annotation = fields[str(part)].annotation
        in_dict = getattr(annotation, "__origin__", None) is dict
        current = _model_of(annotation)
    return sorted(getattr(current, "model_fields", {}))


def _model_of(annotation: Any) -> Any:
    args = getattr(annotation, "__args__", ())
    if args:  # dict[str, Model] -> Model
        return args[-1]
    return annotation
