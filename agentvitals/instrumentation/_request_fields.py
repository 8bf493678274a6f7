"""Request parameters -> the conventions' request attributes, declared per endpoint as a table of fields.

A provider module lists which keyword argument feeds which attribute and how it is read
(:data:`NUMBER`, :data:`INTEGER`, :data:`TEXT`, :data:`TEXT_LIST`, :data:`CHOICE_COUNT`,
:data:`OUTPUT_TYPE`, :data:`TEXT_CONFIG_OUTPUT_TYPE`, :data:`CONVERSATION_ID`); :func:`request_attributes` does
the reading for all of them. A value the reader does not accept (an SDK's ``NOT_GIVEN``/``omit`` sentinel, a
wrong type) is skipped, never guessed. Parameters passed through ``extra_body`` (merged into the request by the
SDK) count as if passed directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHOICE_COUNT",
    "CONVERSATION_ID",
    "INTEGER",
    "NUMBER",
    "OUTPUT_TYPE",
    "TEXT",
    "TEXT_CONFIG_OUTPUT_TYPE",
    "TEXT_LIST",
    "Field",
    "request_attributes",
]

Reader = Callable[[Any], Any]
"""A parameter value -> the attribute value, or ``None`` to record nothing."""


def _number(value: Any) -> float | int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _text_list(value: Any) -> list[str] | None:
    """One string or a list of strings (``stop="\\n"`` and ``stop=["\\n", "END"]`` are both allowed)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def _choice_count(value: Any) -> int | None:
    """``n``: recorded only when it asks for more (or fewer) than one choice, as the conventions say."""
    count = _integer(value)
    return count if count is not None and count != 1 else None


_JSON_FORMATS = frozenset({"json_object", "json_schema"})


def _output_type(value: Any) -> str | None:
    """OpenAI's ``response_format`` -> ``gen_ai.output.type``: ``{"type": "json_schema"}``,
    ``{"type": "json_object"}`` and a pydantic model class (``.parse()``) are ``json``; ``text`` is ``text``."""
    kind = value.get("type") if isinstance(value, Mapping) else value
    if isinstance(value, type):  # a schema class: the SDK asks for json_schema output
        return "json"
    if not isinstance(kind, str) or not kind:
        return None
    return "json" if kind in _JSON_FORMATS else kind


def _text_config_output_type(value: Any) -> str | None:
    """The Responses API's ``text`` (``{"format": {"type": "json_schema", ...}}``): its ``format`` read as
    ``response_format`` is."""
    text_format = value.get("format") if isinstance(value, Mapping) else getattr(value, "format", None)
    return _output_type(text_format) if text_format is not None else None


def _conversation_id(value: Any) -> str | None:
    """The Responses API's ``conversation``: its id, or ``{"id": ...}`` (the caller's, never one we make up)."""
    return _text(value.get("id") if isinstance(value, Mapping) else value)


NUMBER: Reader = _number
INTEGER: Reader = _integer
TEXT: Reader = _text
TEXT_LIST: Reader = _text_list
CHOICE_COUNT: Reader = _choice_count
OUTPUT_TYPE: Reader = _output_type
TEXT_CONFIG_OUTPUT_TYPE: Reader = _text_config_output_type
CONVERSATION_ID: Reader = _conversation_id


@dataclass(frozen=True)
class Field:
    """``attribute`` from the first of ``parameters`` the call sets, read by ``reader``."""

    attribute: str
    parameters: tuple[str, ...]
    reader: Reader

    @classmethod
    def of(cls, attribute: str, parameters: str | tuple[str, ...], reader: Reader) -> Field:
        return cls(attribute, (parameters,) if isinstance(parameters, str) else parameters, reader)


_PARAMETERS: dict[int, tuple[Sequence[Field], frozenset[str]]] = {}
"""The parameter names of each field table (the tables are module constants: a handful of entries)."""


def _parameters(fields: Sequence[Field]) -> frozenset[str]:
    known = _PARAMETERS.get(id(fields))
    if known is None or known[0] is not fields:
        if len(_PARAMETERS) > 64:  # tables made per call (not ours) must not grow this
            _PARAMETERS.clear()
        known = _PARAMETERS[id(fields)] = (fields, frozenset(p for field in fields for p in field.parameters))
    return known[1]


def request_attributes(kwargs: Mapping[str, Any], fields: Sequence[Field]) -> dict[str, Any]:
    """The attributes ``fields`` read from a call's keyword arguments (and its ``extra_body``)."""
    extra_body = kwargs.get("extra_body")
    extra: Mapping[str, Any] = extra_body if isinstance(extra_body, Mapping) else {}
    if not extra and _parameters(fields).isdisjoint(kwargs):
        return {}  # most calls set none of them: one pass over the call's keywords instead of one per field
    attributes: dict[str, Any] = {}
    for field in fields:
        for parameter in field.parameters:
            raw = kwargs[parameter] if parameter in kwargs else extra.get(parameter)
            value = field.reader(raw) if raw is not None else None
            if value is not None:
                attributes[field.attribute] = value
                break
    return attributes
