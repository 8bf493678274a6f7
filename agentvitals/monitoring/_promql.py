"""Small PromQL builders: selectors, rates, aggregations, quantiles and ratios as functions.

Every recording rule, alert and panel query is composed from these, so the braces of a selector, the
window of a rate and the guard of a ratio are written once instead of in nested f-strings. Expressions
are plain strings (what Prometheus and Grafana take); only the selector is a type, because matchers are
added to it after it is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Selector",
    "aggregate",
    "counted_rate",
    "eq",
    "legend",
    "matches",
    "ne",
    "quantile",
    "rate",
    "ratio",
    "share",
    "with_label",
]


def eq(label: str, value: str) -> str:
    return f'{label}="{value}"'


def ne(label: str, value: str) -> str:
    return f'{label}!="{value}"'


def matches(label: str, pattern: str) -> str:
    return f'{label}=~"{pattern}"'


@dataclass(frozen=True)
class Selector:
    """``metric{matcher, ...}``; :meth:`where` adds matchers (a panel's ``$service`` filter, an outcome)."""

    metric: str
    matchers: tuple[str, ...] = ()

    def where(self, *matchers: str) -> Selector:
        return Selector(self.metric, (*self.matchers, *(m for m in matchers if m)))

    def __str__(self) -> str:
        return f"{self.metric}{{{', '.join(self.matchers)}}}" if self.matchers else self.metric


def _labels(by: Iterable[str]) -> str:
    return ", ".join(by)


def aggregate(op: str, expr: str | Selector, by: Iterable[str] = ()) -> str:
    """``op by (labels) (expr)``, or ``op(expr)`` without labels."""
    labels = _labels(by)
    return f"{op} by ({labels}) ({expr})" if labels else f"{op}({expr})"


def rate(selector: Selector, window: str) -> str:
    return f"rate({selector}[{window}])"


def counted_rate(selector: Selector, window: str, window_seconds: float, lookback: str) -> str:
    """Per-second rate over ``window`` that also counts what a series counted before its first sample.

    ``rate()`` needs two samples, so a series' first sample is only a starting point: the first task
    with a new outcome, the first error of a new type, the first call to a new model vanish from every
    rate (13 tool errors read as 7). A series with no sample in the ``lookback`` before the window
    started from zero inside it, so its whole value is its increase; older series use ``rate()``.
    The lookback keeps a series that was only missing for a while (a Collector restart) from being
    counted again from zero.
    """
    born = f"last_over_time({selector}[{window}])\nunless\npresent_over_time({selector}[{lookback}] offset {window})"
    return f"(\n{born}\n) / {window_seconds:g}\nor\n{rate(selector, window)}"


def quantile(q: float, buckets: Selector, window: str, by: Iterable[str] = ()) -> str:
    """``histogram_quantile`` of classic ``_bucket`` series, aggregated ``by`` labels (``le`` added)."""
    return f"histogram_quantile({q:g}, {aggregate('sum', rate(buckets, window), ('le', *by))})"


def ratio(numerator: str, denominator: str, by: Iterable[str]) -> str:
    """sum(numerator) / sum(denominator) by ``by``.

    The ``or ... * 0`` makes a numerator with no series yet (no errors so far) give 0, not nothing.
    """
    by = tuple(by)
    return (f"(\n{aggregate('sum', numerator, by)}\nor\n{aggregate('sum', denominator, by)} * 0\n)"
            f"\n/\n{aggregate('sum', denominator, by)}")


def share(part: str, whole: str) -> str:
    """Each series of ``part`` divided by the single series of ``whole`` (labels of ``part`` kept)."""
    return f"{part}\n/ on () group_left\n{whole}"


def with_label(expr: str, label: str, value: str) -> str:
    """``expr`` with a constant label added (``label_replace`` with an always-matching empty regex)."""
    return f'label_replace({expr}, "{label}", "{value}", "", "")'


def legend(*labels: str, prefix: str = "") -> str:
    """A Grafana legend format naming each series by ``labels``: ``{{model}}``."""
    text = " ".join("{{" + label + "}}" for label in labels)
    return f"{prefix} {text}".strip() if prefix else text
