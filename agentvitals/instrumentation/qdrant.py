"""qdrant-client: ``query_points`` and ``upsert`` (sync and async, remote or local mode) as retrieval spans."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals._records import non_empty_str
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._operations import RetrievalEndpoint, async_operation_wrapper, sync_operation_wrapper

__all__ = ["QdrantInstrumentor"]


def _collection(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(kwargs.get("collection_name", args[0] if args else None))


def _points(result: Any) -> int | None:
    points = getattr(result, "points", None)
    return len(points) if isinstance(points, list) else None


def _upserted(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    points = kwargs.get("points", args[1] if len(args) > 1 else None)
    return len(points) if isinstance(points, list) else None


def _query_text(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(kwargs.get("query"))


QUERY = RetrievalEndpoint("qdrant", "query", _collection, lambda args, kwargs: kwargs.get("limit", 10), _points,
                          _query_text)
UPSERT = RetrievalEndpoint("qdrant", "add", _collection, _upserted)

_SYNC, _ASYNC = "qdrant_client.qdrant_client", "qdrant_client.async_qdrant_client"


class QdrantInstrumentor(PatchTableInstrumentor):
    name = "qdrant"
    instruments = ("qdrant-client >= 1.10",)
    patches = (
        Patch(_SYNC, "QdrantClient.query_points", sync_operation_wrapper(QUERY)),
        Patch(_SYNC, "QdrantClient.upsert", sync_operation_wrapper(UPSERT)),
        Patch(_ASYNC, "AsyncQdrantClient.query_points", async_operation_wrapper(QUERY)),
        Patch(_ASYNC, "AsyncQdrantClient.upsert", async_operation_wrapper(UPSERT)),
    )
