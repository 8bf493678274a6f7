"""agentvitals.LLMCache: exact and semantic hits, eviction, expiry, and what hits are counted and saved."""

from __future__ import annotations

import pytest

import agentvitals
from agentvitals.metrics import CACHE_REQUESTS, CACHE_SAVED
from tests.conftest import Telemetry


def test_exact_then_semantic_hits_and_misses_are_counted(telemetry: Telemetry) -> None:
    cache: agentvitals.LLMCache[str] = agentvitals.LLMCache("answers", similarity=0.9)
    assert cache.get("where is my order?", vector=[1.0, 0.0]) is None
    cache.put("where is my order?", "on its way", vector=[1.0, 0.0], cost_usd=0.002)
    assert cache.get("where is my order?") == "on its way"  # exact
    assert cache.get("where's my order", vector=[0.99, 0.05]) == "on its way"  # semantic, cosine ~0.999
    assert cache.get("cancel it", vector=[0.0, 1.0]) is None  # orthogonal: a miss
    hits = telemetry.total(CACHE_REQUESTS.name, agentvitals__cache__result="hit")
    misses = telemetry.total(CACHE_REQUESTS.name, agentvitals__cache__result="miss")
    assert (hits, misses) == (2, 2)
    assert telemetry.total(CACHE_SAVED.name) == pytest.approx(0.004)  # two hits of a $0.002 answer


def test_lru_eviction_and_ttl_expiry(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("agentvitals._cache.time.monotonic", lambda: now[0])
    cache: agentvitals.LLMCache[int] = agentvitals.LLMCache("numbers", max_entries=2, ttl_s=60)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3)  # evicts b
    assert cache.get("b") is None and cache.get("a") == 1 and len(cache) == 2
    now[0] += 61
    assert cache.get("a") is None  # expired


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="similarity"):
        agentvitals.LLMCache("x", similarity=1.5)
