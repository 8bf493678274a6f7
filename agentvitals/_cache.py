"""An instrumented cache for LLM results: exact keys, optional semantic (embedding) keys, counted.

Every ``get`` counts a hit or a miss (``agentvitals.cache.requests``). A value stored with the cost
it took to produce adds that cost to ``agentvitals.cache.saved.usd`` on every hit: an estimate of
what the cache saved (the next call might have cost differently), labelled as one.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from agentvitals._api import record_cache_lookup
from agentvitals._handler import Handler

__all__ = ["LLMCache"]

V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    value: V
    vector: tuple[float, ...] | None
    norm: float
    cost_usd: float | None
    expires: float | None


def _norm(vector: Sequence[float]) -> float:
    return math.sqrt(sum(x * x for x in vector)) or 1.0


class LLMCache(Generic[V]):
    """A bounded LRU cache with exact and semantic look-ups.

    Args:
        name: Low-cardinality cache name (a metric label), e.g. ``"answers"``.
        similarity: Cosine similarity at or above which a semantic look-up hits (only when vectors are given).
        max_entries: Least recently used entries are evicted beyond this.
        ttl_s: Entries expire after this many seconds (``None``: never).
    """

    def __init__(self, name: str, *, similarity: float = 0.95, max_entries: int = 1024, ttl_s: float | None = None,
                 handler: Handler | None = None) -> None:
        if not 0 < similarity <= 1 or max_entries < 1 or (ttl_s is not None and ttl_s <= 0):
            raise ValueError("similarity must be in (0, 1], max_entries >= 1 and ttl_s positive or None")
        self.name = name
        self.similarity = similarity
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._handler = handler
        self._entries: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, *, vector: Sequence[float] | None = None) -> V | None:
        """The cached value for ``key``, else for the most similar stored vector; ``None`` on a miss."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires is not None and entry.expires < now:
                del self._entries[key]
                entry = None
            if entry is None and vector is not None:
                entry, key = self._nearest(vector, now)
            if entry is not None:
                self._entries.move_to_end(key)
        self._record(entry)
        return entry.value if entry is not None else None

    def put(self, key: str, value: V, *, vector: Sequence[float] | None = None, cost_usd: float | None = None) -> None:
        """Store ``value``; ``cost_usd`` is what producing it cost (for the saved-cost estimate)."""
        expires = time.monotonic() + self.ttl_s if self.ttl_s is not None else None
        stored = tuple(float(x) for x in vector) if vector is not None else None
        with self._lock:
            self._entries[key] = _Entry(value, stored, _norm(stored) if stored else 1.0, cost_usd, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def _nearest(self, vector: Sequence[float], now: float) -> tuple[_Entry[V] | None, str]:
        query_norm = _norm(vector)
        best: tuple[float, str] | None = None
        for key, entry in self._entries.items():
            if entry.vector is None or (entry.expires is not None and entry.expires < now):
                continue
            score = sum(a * b for a, b in zip(vector, entry.vector, strict=False)) / (query_norm * entry.norm)
            if score >= self.similarity and (best is None or score > best[0]):
                best = (score, key)
        return (self._entries[best[1]], best[1]) if best is not None else (None, "")

    def _record(self, entry: _Entry[Any] | None) -> None:
        record_cache_lookup(self.name, entry is not None, saved_usd=entry.cost_usd if entry is not None else None,
                            handler=self._handler)
