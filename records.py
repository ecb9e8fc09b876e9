"""Typed reading of the JSON records the project writes and reads back (dataset metadata, trainer state, card
inputs): every field is checked for presence and type before use, and a bad one is a one-line `ValueError` naming
the file and the field, never a `KeyError` or `TypeError` later, in the middle of a run."""

from __future__ import annotations

from typing import Any


# A field's type: one of these names, or a tuple of them (`None` allows null).
KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "number": (int, float),
    "str": (str,),
    "bool": (bool,),
    "dict": (dict,),
    "list": (list,),
}
EXCERPT = 40  # characters of a bad value quoted in an error


def excerpt(value: Any) -> str:
    """`repr(value)`, cut to `EXCERPT` characters."""
    text = repr(value)
    return text if len(text) <= EXCERPT else text[: EXCERPT - 3] + "..."


def has_kind(value: Any, kind: str | None) -> bool:
    """Whether `value` is of `kind` (a name of `KINDS`, or None for null); a bool is never an int or a number."""
    if kind is None:
        return value is None
    if isinstance(value, bool) and kind != "bool":
        return False
    return isinstance(value, KINDS[kind])


def check_record(values: Any, fields: dict[str, str | tuple[str | None, ...]], where: str,
                 optional: frozenset[str] = frozenset()) -> dict[str, Any]:  # fmt: skip
    """`values` when it is a JSON object whose every field of `fields` (name -> kind or kinds) is present (unless
    `optional`) and of its kind; otherwise a `ValueError` naming `where` (the file) and the field."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: holds {type(values).__name__} {excerpt(values)}, not an object of fields.")
    for name, kinds in fields.items():
        if name not in values:
            if name in optional:
                continue
            raise ValueError(f"{where}: field `{name}` is missing.")
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        if not any(has_kind(values[name], kind) for kind in kinds):
            wanted = " or ".join("null" if kind is None else kind for kind in kinds)
            raise ValueError(f"{where}: field `{name}` must be {wanted}, got {excerpt(values[name])}.")
    return values
