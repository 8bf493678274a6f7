"""chromadb: ``Collection.query`` and ``Collection.add``/``upsert`` (sync and async) as retrieval spans."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals._records import non_empty_str
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._operations import RetrievalEndpoint, async_operation_wrapper, sync_operation_wrapper

__all__ = ["ChromaInstrumentor"]


def _collection(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(getattr(instance, "name", None))


def _query_count(result: Any) -> int | None:
    ids = result.get("ids") if isinstance(result, Mapping) else None
    return sum(len(batch) for batch in ids) if isinstance(ids, list) else None


def _query_text(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    texts = kwargs.get("query_texts")
    return texts if isinstance(texts, str) else texts[0] if isinstance(texts, list) and texts else None


def _added(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    ids = kwargs.get("ids", args[0] if args else None)
    return 1 if isinstance(ids, str) else len(ids) if isinstance(ids, list) else None


QUERY = RetrievalEndpoint("chroma", "query", _collection, lambda args, kwargs: kwargs.get("n_results", 10),
                          _query_count, _query_text)
ADD = RetrievalEndpoint("chroma", "add", _collection, _added)

_SYNC, _ASYNC = "chromadb.api.models.Collection", "chromadb.api.models.AsyncCollection"


class ChromaInstrumentor(PatchTableInstrumentor):
    name = "chromadb"
    instruments = ("chromadb >= 0.5",)
    patches = (
        Patch(_SYNC, "Collection.query", sync_operation_wrapper(QUERY)),
        Patch(_SYNC, "Collection.add", sync_operation_wrapper(ADD)),
        Patch(_SYNC, "Collection.upsert", sync_operation_wrapper(ADD)),
        Patch(_ASYNC, "AsyncCollection.query", async_operation_wrapper(QUERY)),
        Patch(_ASYNC, "AsyncCollection.add", async_operation_wrapper(ADD)),
        Patch(_ASYNC, "AsyncCollection.upsert", async_operation_wrapper(ADD)),
    )
