"""Captured content in the GenAI conventions' structured form, bounded and always valid JSON.

``gen_ai.input.messages`` and ``gen_ai.output.messages`` are lists of messages ``{"role", "parts"}`` (output
messages add ``finish_reason``, one message per choice); ``gen_ai.system_instructions`` a list of parts. A part
is ``{"type": "text", "content"}``, ``{"type": "tool_call", "id", "name", "arguments"}``,
``{"type": "tool_call_response", "id", "response"}``, ``{"type": "reasoning", "content"}``, ``{"type": "uri" |
"blob", "modality", ...}`` or another type kept by name. Providers build these with the helpers here
(:func:`text`, :func:`tool_call`, ...); :func:`bounded_json` serialises them within ``content_max_length``.

Only used when content capture is on: nothing here runs otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any

from agentvitals._records import MAX_FINISH_REASONS, finish_reason

__all__ = [
    "OutputBuffer",
    "Part",
    "bounded_json",
    "message",
    "parse_arguments",
    "reasoning",
    "text",
    "tool_call",
    "tool_call_response",
]

Part = dict[str, Any]
Message = dict[str, Any]

TRUNCATED = "…[truncated]"
"""Appended to a string cut short (the same marker :class:`~agentvitals._content.ContentPolicy` uses)."""


def text(content: str) -> Part:
    return {"type": "text", "content": content}


def reasoning(content: str) -> Part:
    return {"type": "reasoning", "content": content}


def parse_arguments(arguments: Any) -> Any:
    """Tool call arguments as the object they encode when they are a JSON string (providers send them
    encoded), else as given."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def tool_call(call_id: Any, name: Any, arguments: Any) -> Part:
    part: Part = {"type": "tool_call", "id": call_id if isinstance(call_id, str) else None,
                  "name": name if isinstance(name, str) else ""}
    if arguments is not None:
        part["arguments"] = parse_arguments(arguments)
    return part


def tool_call_response(call_id: Any, response: Any) -> Part:
    return {"type": "tool_call_response", "id": call_id if isinstance(call_id, str) else None,
            "response": response}


def message(role: Any, parts: list[Part], finish_reason: str | None = None) -> Message:
    built: Message = {"role": role if isinstance(role, str) and role else "user", "parts": parts}
    if finish_reason is not None:
        built["finish_reason"] = finish_reason
    return built


# --- bounding ------------------------------------------------------------------------------------------
def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


_STRUCTURE = frozenset({"role", "type", "id", "name", "finish_reason", "modality", "mime_type"})
"""Keys whose string values describe the structure, not the content: never cut."""


def _cap_strings(value: Any, limit: int) -> Any:
    """``value`` with every content string longer than ``limit`` cut to ``limit`` characters plus the marker."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + TRUNCATED
    if isinstance(value, Mapping):
        return {key: item if key in _STRUCTURE and isinstance(item, str) else _cap_strings(item, limit)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cap_strings(item, limit) for item in value]
    return value


def _longest_string(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return max((_longest_string(item) for key, item in value.items()
                    if not (key in _STRUCTURE and isinstance(item, str))), default=0)
    if isinstance(value, (list, tuple)):
        return max((_longest_string(item) for item in value), default=0)
    return 0


def bounded_json(value: Any, max_length: int) -> str:
    """``value`` as JSON in at most ``max_length`` characters, still valid JSON.

    Long strings are cut first, all to the same length (the largest that fits, found by bisection), each
    marked; if the structure alone is too long, trailing list items are dropped (the first messages and
    choices are kept). Values JSON cannot encode are written as their ``str()``.
    """
    # No string longer than the whole budget can survive: cutting those first keeps every later pass small
    # (a base64 image in a message costs one slice, not repeated encodings of megabytes).
    value = _cap_strings(value, max_length)
    encoded = _dumps(value)
    if len(encoded) <= max_length:
        return encoded
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    while items:
        candidate = items if isinstance(value, (list, tuple)) else items[0]
        low, high = 0, _longest_string(candidate)
        if len(_dumps(_cap_strings(candidate, 0))) <= max_length:
            while low < high:  # the longest per-string limit that still fits
                middle = (low + high + 1) // 2
                if len(_dumps(_cap_strings(candidate, middle))) <= max_length:
                    low = middle
                else:
                    high = middle - 1
            return _dumps(_cap_strings(candidate, low))
        if not isinstance(value, (list, tuple)):
            break
        items.pop()
    return "[]" if isinstance(value, (list, tuple)) else "null"


# --- streamed output, kept apart per choice ------------------------------------------------------------
_MAX_ROLE_LENGTH = 64
_MAX_PARTS = 256
"""Parts kept per streamed choice (tool calls arrive by index, and a hostile stream could invent many)."""


class _PartBuffer:
    __slots__ = ("kind", "fragments", "size", "call_id", "name")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.fragments: list[str] = []
        self.size = 0
        self.call_id: str | None = None
        self.name: str | None = None

    def add(self, fragment: str, limit: int) -> None:
        if self.size <= limit:  # past the cap the text would be cut anyway: memory stays bounded
            self.fragments.append(fragment)
            self.size += len(fragment)

    def build(self) -> Part:
        joined = "".join(self.fragments)
        if self.kind == "tool_call":
            return tool_call(self.call_id, self.name, joined or None)
        return {"type": self.kind, "content": joined}


class OutputBuffer:
    """What a stream has said so far, choice by choice (``n > 1`` streams interleave their choices).

    Finish reasons are always kept (they are span attributes); content only when ``capture`` is on, each
    part bounded by ``limit`` characters. Choices past :data:`MAX_FINISH_REASONS` (or with an index that is
    not one) are ignored: a hostile stream cannot make it grow.
    """

    __slots__ = ("capture", "limit", "_choices")

    def __init__(self, capture: bool, limit: int) -> None:
        self.capture = capture
        self.limit = limit
        self._choices: dict[int, _Choice] = {}

    def _choice(self, index: int) -> _Choice | None:
        choice = self._choices.get(index)
        if choice is None:
            if not (isinstance(index, int) and 0 <= index < MAX_FINISH_REASONS):
                return None
            choice = self._choices[index] = _Choice()
        return choice

    def role(self, index: int, role: Any) -> None:
        if isinstance(role, str) and role and (choice := self._choice(index)) is not None:
            choice.role = role[:_MAX_ROLE_LENGTH]

    def add_text(self, index: int, fragment: Any, *, part: Hashable = "text", kind: str = "text") -> None:
        """Append to a text (or ``reasoning``) part of choice ``index``; ``part`` tells parts apart."""
        if self.capture and isinstance(fragment, str) and fragment and (choice := self._choice(index)) is not None:
            if (buffer := choice.part(part, kind)) is not None:
                buffer.add(fragment, self.limit)

    def add_tool_call(self, index: int, part: Hashable, *, call_id: Any = None, name: Any = None,
                      arguments: Any = None) -> None:
        """Start or continue tool call ``part`` of choice ``index`` (arguments arrive in fragments)."""
        if not self.capture or (choice := self._choice(index)) is None:
            return
        buffer = choice.part(("tool_call", part), "tool_call")
        if buffer is None:
            return
        if isinstance(call_id, str) and call_id:
            buffer.call_id = call_id
        if isinstance(name, str) and name:
            buffer.name = name
        if isinstance(arguments, str) and arguments:
            buffer.add(arguments, self.limit)

    def finish(self, index: int, reason: Any) -> None:
        kept = finish_reason(reason)
        if kept is not None and (choice := self._choice(index)) is not None:
            choice.finish_reason = kept

    def finish_reasons(self) -> tuple[str, ...]:
        """In choice order."""
        return tuple(choice.finish_reason for _, choice in sorted(self._choices.items())
                     if choice.finish_reason is not None)

    def messages(self) -> list[Message]:
        """One output message per choice, in choice order (empty when not capturing)."""
        if not self.capture:
            return []
        return [message(choice.role, [part.build() for part in choice.parts.values()],
                        choice.finish_reason or "error")
                for _, choice in sorted(self._choices.items())]


class _Choice:
    __slots__ = ("role", "finish_reason", "parts")

    def __init__(self) -> None:
        self.role = "assistant"
        self.finish_reason: str | None = None
        self.parts: dict[Hashable, _PartBuffer] = {}

    def part(self, key: Hashable, kind: str) -> _PartBuffer | None:
        buffer = self.parts.get(key)
        if buffer is None:
            if len(self.parts) >= _MAX_PARTS:
                return None
            buffer = self.parts[key] = _PartBuffer(kind)
        return buffer

