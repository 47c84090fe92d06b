"""The one strict builder of typed answers from the platform's JSON.

Each answer is a frozen dataclass; its annotations are the contract. A field the
platform always sends is required, a field it may send as null is ``X | None``,
and a value of another JSON type is refused (``True`` is not an int, ``1`` is not
a bool, ``"12"`` is not an int). Nested answers and lists of answers are built
by the same rules. Refusing beats guessing: an SDK that turned a missing field
into None would hand a merchant's checkout a balance of None.

Two names are not read from the JSON: ``raw`` (the whole object, kept so fields
a newer platform adds stay reachable) and ``replayed`` (whether the answer was a
200 replay of an earlier create rather than a 201).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Self, TypeVar, Union

from partner_sdk.errors import UnexpectedAnswer

__all__ = ["WHOLE", "Answer", "build", "renamed"]

RAW = "raw"
REPLAYED = "replayed"
_KEY = "partner_sdk.key"
_WHOLE = "partner_sdk.whole"


A = TypeVar("A")


# Field metadata: a nested answer built from the same JSON object as its parent (an endpoint beside its secret).
WHOLE: Mapping[str, Any] = types.MappingProxyType({_WHOLE: True})


def renamed(key: str) -> Mapping[str, Any]:
    """Field metadata: the field is read from another JSON name (``from`` is a Python keyword)."""
    return types.MappingProxyType({_KEY: key})


def build(cls: type[A], data: object, *, replayed: bool = False, status: int = 0, where: str = "") -> A:
    """The answer ``cls`` read from ``data``; raises ``UnexpectedAnswer`` naming the first bad field."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise UnexpectedAnswer(where, f"expected a JSON object, got {_json_kind(data)}", status=status)
    hints = _hints(typing.cast(type, cls))
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(typing.cast(Any, cls)):
        if spec.name == RAW:
            values[RAW] = data
        elif spec.name == REPLAYED:
            values[REPLAYED] = replayed
        elif spec.metadata.get(_WHOLE):
            values[spec.name] = build(hints[spec.name], data, status=status, where=where)
        else:
            key = spec.metadata.get(_KEY, spec.name)
            if key not in data:
                raise UnexpectedAnswer(f"{where}.{key}", "missing", status=status)
            values[spec.name] = _value(hints[spec.name], data[key], f"{where}.{key}", status)
    if replayed and REPLAYED not in values:
        raise TypeError(f"{cls.__name__} has no `replayed`: it is not the answer of a create")
    return cls(**values)


class Answer:
    """Base of the typed answers: ``from_json`` builds one strictly (see ``partner_sdk._build``)."""

    @classmethod
    def from_json(cls, data: object, *, replayed: bool = False) -> Self:
        """This answer read from the platform's JSON object; raises ``UnexpectedAnswer`` on a bad field."""
        built: Self = build(typing.cast(Any, cls), data, replayed=replayed)
        return built


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # The answers use `from __future__ import annotations`: resolve the strings once per class.
    return typing.get_type_hints(cls)


def _value(expected: Any, value: object, where: str, status: int) -> Any:
    origin = typing.get_origin(expected)
    if origin in (Union, types.UnionType):
        options = [option for option in typing.get_args(expected) if option is not type(None)]
        if value is None and len(options) < len(typing.get_args(expected)):
            return None
        if len(options) != 1:
            raise TypeError(f"{where}: only `X | None` unions are supported")
        return _value(options[0], value, where, status)
    if origin is list:
        if not isinstance(value, list):
            raise _wrong("list", value, where, status)
        (item,) = typing.get_args(expected)
        return [_value(item, element, f"{where}[{index}]", status) for index, element in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _wrong("object", value, where, status)
        return value
    if expected is Any:
        return value
    if dataclasses.is_dataclass(expected):
        return build(typing.cast(Any, expected), value, status=status, where=where)
    return _scalar(expected, value, where, status)


def _scalar(expected: Any, value: object, where: str, status: int) -> Any:
    # bool is a subclass of int in Python, never in the contract: check it first, both ways.
    if expected is bool:
        if isinstance(value, bool):
            return value
        raise _wrong("bool", value, where, status)
    if expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _wrong("int", value, where, status)
    if expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _wrong("number", value, where, status)
    if expected is str:
        if isinstance(value, str):
            return value
        raise _wrong("str", value, where, status)
    raise TypeError(f"{where}: the builder does not know {expected!r}")


def _wrong(expected: str, value: object, where: str, status: int) -> UnexpectedAnswer:
    return UnexpectedAnswer(where, f"expected {expected}, got {_json_kind(value)}", status=status)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"bool {value!r}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"str {value[:40]!r}"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
