"""Retrieval for the demo agent: a small vector store (the answer cache is ``agentvitals.LLMCache``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DOCUMENTS", "VectorIndex", "cosine"]

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
