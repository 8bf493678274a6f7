"""What a router is configured with and what it answers: choices, variants, routes, decisions.

Plain frozen values, validated when built, so a mistake in the configuration fails at start-up with a
message saying what is wrong, never at the first request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from agentvitals.control.metrics import ROUTER_MODE, ROUTER_PRIORITY, ROUTER_ROUTE, ROUTER_VARIANT

__all__ = ["CONTROL", "Admission", "Choice", "Decision", "Mode", "Priority", "Route", "Variant", "label_value"]

CONTROL = "control"
"""The variant name of a route's own choices (the traffic no variant takes)."""
_LABEL_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def label_value(value: object, what: str) -> str:
    """``value`` if it can be a metric label value we control (short, no spaces or quotes), else ValueError."""
    if not isinstance(value, str) or not _LABEL_VALUE.fullmatch(value):
        raise ValueError(f"{what} must be 1-64 characters of letters, digits, '_', '.', ':' or '-' "
                         f"starting with a letter or digit, got {value!r}")
    return value


class Priority(str, Enum):
    """How a request is treated in degraded mode."""

    CRITICAL = "critical"
    """Keeps the route's normal choice (unless the route has ``degrade_critical=True``)."""
    STANDARD = "standard"
    """Gets the route's degraded choice."""
    BACKGROUND = "background"
    """Gets the degraded choice, and :meth:`ModelRouter.admit` tells the caller to defer or shed it."""


class Mode(str, Enum):
    NORMAL = "normal"
    DEGRADED = "degraded"


class Admission(str, Enum):
    """What :meth:`ModelRouter.admit` answers."""

    ADMIT = "admit"
    DEFER = "defer"
    """Run it later (requeue with a delay, or leave it queued)."""
    SHED = "shed"
    """Drop it (and tell whoever asked)."""

    @property
    def admitted(self) -> bool:
        return self is Admission.ADMIT


@dataclass(frozen=True)
class Choice:
    """A model and the request settings that go with it."""

    model: str
    max_tokens: int | None = None
    """Maximum output tokens; ``None`` leaves the provider's default."""
    prompt: str | None = None
    """A prompt name or version your code looks up (a candidate prompt is a variant with another one)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Other request parameters (``temperature``, ``reasoning_effort``, ...), passed on as given."""

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"Choice.model must be a non-empty string, got {self.model!r}")
        if self.max_tokens is not None and (isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int)
                                            or self.max_tokens < 1):
            raise ValueError(f"Choice.max_tokens must be a positive integer or None, got {self.max_tokens!r}")
        if self.prompt is not None and not isinstance(self.prompt, str):
            raise ValueError(f"Choice.prompt must be a string or None, got {self.prompt!r}")
        if not isinstance(self.settings, Mapping) or not all(isinstance(key, str) for key in self.settings):
            raise ValueError("Choice.settings must be a mapping with string keys")
        reserved = {"model", "max_tokens"} & set(self.settings)
        if reserved:
            raise ValueError(f"Choice.settings must not set {sorted(reserved)}: use Choice's own fields")
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))


@dataclass(frozen=True)
class Variant:
    """A candidate on a share of a route's traffic (A/B): its own normal choice, and optionally its own degraded one.

    A task keeps one variant for all its choices (the draw is pinned on the task), so its cost, success
    and latency can be compared by variant.
    """

    name: str
    share: float
    """Fraction of the route's traffic, in (0, 1]; the shares of a route's variants sum to at most 1."""
    normal: Choice
    degraded: Choice | None = None
    """``None``: in degraded mode this variant's traffic gets the route's degraded choice."""

    def __post_init__(self) -> None:
        label_value(self.name, "Variant.name")
        if self.name == CONTROL:
            raise ValueError(f"{CONTROL!r} names a route's own choices; give the variant another name")
        share = self.share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise ValueError(f"Variant {self.name!r}: share must be a number in (0, 1], got {share!r}")
        if not isinstance(self.normal, Choice) or not isinstance(self.degraded, (Choice, type(None))):
            raise ValueError(f"Variant {self.name!r}: normal (and degraded) must be Choice objects")


@dataclass(frozen=True)
class Route:
    """One kind of model call (``"answer"``, ``"plan"``...): its normal choice, its degraded choice, its variants."""

    normal: Choice
    degraded: Choice | None = None
    """``None``: degraded mode does not change this route."""
    variants: Sequence[Variant] = ()
    degrade_critical: bool = False
    """Also give critical-priority calls the degraded choice in degraded mode."""

    def __post_init__(self) -> None:
        if not isinstance(self.normal, Choice) or not isinstance(self.degraded, (Choice, type(None))):
            raise ValueError("Route.normal (and Route.degraded) must be Choice objects")
        variants = tuple(self.variants)
        if not all(isinstance(variant, Variant) for variant in variants):
            raise ValueError("Route.variants must be Variant objects")
        names = [variant.name for variant in variants]
        if len(set(names)) != len(names):
            raise ValueError(f"Route variants must have distinct names, got {names}")
        if sum(variant.share for variant in variants) > 1 + 1e-9:
            raise ValueError(f"the shares of a route's variants sum to more than 1: {names}")
        object.__setattr__(self, "variants", variants)

    def variant_for(self, draw: float) -> Variant | None:
        """The variant whose slice of [0, 1) holds ``draw`` (slices in order of configuration), or None: control."""
        edge = 0.0
        for variant in self.variants:
            edge += variant.share
            if draw < edge:
                return variant
        return None


@dataclass(frozen=True)
class Decision:
    """What the router chose for one call. ``kwargs()`` gives the request parameters::

        decision = router.choose("answer", priority="standard")
        client.chat.completions.create(**decision.kwargs(), messages=...)
    """

    route: str
    choice: Choice
    mode: Mode
    """The mode of the choice served: ``degraded`` only when it is the route's (or variant's) degraded choice."""
    priority: Priority
    variant: str | None
    """``control`` or a variant name; ``None`` for routes without variants."""

    @property
    def model(self) -> str:
        return self.choice.model

    @property
    def max_tokens(self) -> int | None:
        return self.choice.max_tokens

    @property
    def prompt(self) -> str | None:
        return self.choice.prompt

    @property
    def degraded(self) -> bool:
        return self.mode is Mode.DEGRADED

    def kwargs(self) -> dict[str, Any]:
        """``model``, ``max_tokens`` (when set) and the choice's settings, for an OpenAI-style request."""
        request: dict[str, Any] = {"model": self.choice.model, **self.choice.settings}
        if self.choice.max_tokens is not None:
            request["max_tokens"] = self.choice.max_tokens
        return request

    def span_attributes(self) -> dict[str, str]:
        """The attributes the router puts on the LLM spans of this decision (for spans you start yourself)."""
        attributes = {ROUTER_ROUTE: self.route, ROUTER_MODE: self.mode.value, ROUTER_PRIORITY: self.priority.value}
        if self.variant is not None:
            attributes[ROUTER_VARIANT] = self.variant
        return attributes
