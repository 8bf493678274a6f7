"""Retrieval and caching for the demo agent: a small vector store and a semantic answer cache."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import agentvitals

__all__ = ["DOCUMENTS", "SemanticCache", "VectorIndex", "cosine"]

DOCUMENTS = (
    "Orders ship within two business days from our warehouse.",
    "Standard shipping takes three to five business days; express takes one to two.",
    "Refunds are issued to the original payment method within ten days of receiving the return.",
    "Items can be returned within thirty days of delivery if unused.",
    "Damaged items are replaced free of charge; send a photo to support.",
    "Tracking numbers are emailed when the order ships.",
    "International orders may be subject to customs duties paid by the recipient.",
    "Out-of-stock items are back-ordered and ship when inventory arrives.",
    "Gift cards cannot be refunded or exchanged for cash.",
    "Loyalty members get free express shipping on orders above fifty dollars.",
    "Orders can be cancelled free of charge until they ship.",
    "Address changes are possible until the order is handed to the carrier.",
    "Support is available every day from eight to eight.",
    "Price adjustments are honoured within fourteen days of purchase.",
    "Bulk orders above one hundred units get a volume discount.",
    "Warranty claims need the order number and a description of the defect.",
)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # vectors are normalised


@dataclass
class VectorIndex:
    """A tiny in-memory vector store (what a vector database does, minus the database)."""

    texts: list[str]
    vectors: list[list[float]]

    def search(self, query: list[float], top_k: int) -> list[str]:
        scored = sorted(zip(self.vectors, self.texts, strict=True), key=lambda item: -cosine(query, item[0]))
        return [text for _, text in scored[:top_k]]


class SemanticCache:
    """Answers keyed by question embedding: a near-identical question reuses the earlier answer.

    Every look-up is recorded with ``agentvitals.record_cache_lookup("semantic", hit)``.
    """

    def __init__(self, threshold: float = 0.97, capacity: int = 512) -> None:
        self.threshold = threshold
        self.capacity = capacity
        self._entries: OrderedDict[int, tuple[list[float], str]] = OrderedDict()
        self._next = 0

    def lookup(self, vector: list[float]) -> str | None:
        best: tuple[float, int] | None = None
        for key, (cached, _) in self._entries.items():
            score = cosine(vector, cached)
            if score >= self.threshold and (best is None or score > best[0]):
                best = (score, key)
        agentvitals.record_cache_lookup("semantic", best is not None)
        if best is None:
            return None
        self._entries.move_to_end(best[1])
        return self._entries[best[1]][1]

    def store(self, vector: list[float], answer: str) -> None:
        self._entries[self._next] = (vector, answer)
        self._next += 1
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
