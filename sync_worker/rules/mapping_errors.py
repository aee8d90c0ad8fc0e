"""pydantic's validation errors as one readable line each: the key path and, where known, the
valid choices (``fields.amount.rulez: unknown key; valid keys here: ...``)."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError

__all__ = ["describe_validation_error"]


def describe_validation_error(error: ValidationError, root: type[BaseModel]) -> list[str]:
    """One ``key.path: problem`` line per pydantic error, with the valid choices where known."""
    return [_describe(detail, root) for detail in error.errors()]


def _describe(detail: Any, root: type[BaseModel]) -> str:
    loc: tuple[str | int, ...] = detail["loc"]
    key = _key_path(loc) or "(top level)"
    kind = detail["type"]
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        valid = ", ".join(parent.model_fields) if parent else "see the documentation"
        return f"{key}: unknown key; valid keys here: {valid}"
    if kind == "missing":
        return f"{key}: required key is missing"
    message = detail["msg"]
    if "input" in detail and kind not in ("too_short",):
        message += f" (got {detail['input']!r})"
    return f"{key}: {message}"


def _key_path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class found at ``loc`` (through dicts and lists of models), if any."""
    current: Any = root
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            current = info.annotation if info else None
        else:
            args = [arg for arg in get_args(current) if arg is not type(None)]
            current = args[-1] if args else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None
