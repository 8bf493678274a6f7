"""chromadb and qdrant-client in their in-process modes: retrieval spans with source, top-k and result
count; time counted as retrieval idle; no document or query text unless content capture is on."""

from __future__ import annotations

import pytest

import agentvitals
from agentvitals.attributes import (
    RETRIEVAL_OPERATION,
    RETRIEVAL_RESULT_COUNT,
    RETRIEVAL_TOP_K,
    WaitKind,
    task_idle_time,
)
from agentvitals.metrics import RETRIEVAL_DURATION
from agentvitals.semconv import GEN_AI_DATA_SOURCE_ID, GEN_AI_OPERATION_NAME, GEN_AI_RETRIEVAL_QUERY_TEXT
from tests.conftest import Telemetry, make_telemetry

DOCUMENT = "confidential refund policy text"
VECTORS = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.7, 0.7, 0.0]]


def assert_retrieval(span: object, source: str, operation: str, results: int | None) -> None:
    attributes = span.attributes  # type: ignore[attr-defined]
    assert span.name == f"retrieval {source}"  # type: ignore[attr-defined]
    assert attributes[GEN_AI_OPERATION_NAME] == "retrieval"
    assert attributes[GEN_AI_DATA_SOURCE_ID] == source
    assert attributes[RETRIEVAL_OPERATION] == operation
    if results is not None:
        assert attributes[RETRIEVAL_RESULT_COUNT] == results
    assert all(DOCUMENT not in str(value) for value in attributes.values())


def test_chromadb(telemetry: Telemetry) -> None:
    import chromadb

    client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.create_collection("policies", embedding_function=None)
    with agentvitals.task("kb"):
        collection.add(ids=["a", "b", "c"], embeddings=VECTORS, documents=[DOCUMENT, "x", "y"])
        found = collection.query(query_embeddings=[[1.0, 0.1, 0.0]], n_results=2)
    assert found["ids"][0][0] == "a"
    add, query = telemetry.spans("retrieval ")
    assert_retrieval(add, "policies", "add", None)
    assert_retrieval(query, "policies", "query", 2)
    assert query.attributes[RETRIEVAL_TOP_K] == 2
    task = telemetry.span("invoke_agent kb")
    assert task.attributes[task_idle_time(WaitKind.RETRIEVAL)] > 0
    assert {p.attributes[RETRIEVAL_OPERATION] for p in telemetry.points(RETRIEVAL_DURATION.name)} == {
        "add", "query"}


def test_qdrant_local(telemetry: Telemetry) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    client.create_collection("docs", vectors_config=models.VectorParams(size=3, distance=models.Distance.COSINE))
    client.upsert("docs", points=[models.PointStruct(id=i, vector=v, payload={"text": DOCUMENT})
                                  for i, v in enumerate(VECTORS)])
    response = client.query_points(collection_name="docs", query=[1.0, 0.1, 0.0], limit=2)
    assert len(response.points) == 2
    upsert, query = telemetry.spans("retrieval ")
    assert_retrieval(upsert, "docs", "add", None)
    assert_retrieval(query, "docs", "query", 2)
    assert query.attributes["db.system.name"] == "qdrant"


async def test_qdrant_async(telemetry: Telemetry) -> None:
    from qdrant_client import AsyncQdrantClient, models

    client = AsyncQdrantClient(":memory:")
    await client.create_collection("docs", vectors_config=models.VectorParams(size=3,
                                                                              distance=models.Distance.COSINE))
    await client.upsert("docs", points=[models.PointStruct(id=i, vector=v) for i, v in enumerate(VECTORS)])
    await client.query_points(collection_name="docs", query=[0.0, 1.0, 0.0], limit=1)
    assert [s.attributes[RETRIEVAL_OPERATION] for s in telemetry.spans("retrieval ")] == ["add", "query"]


def test_query_text_only_with_content_capture() -> None:
    import chromadb

    on = make_telemetry(capture_content=True)
    try:
        client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))

        class Embedder(chromadb.EmbeddingFunction):  # type: ignore[misc, type-arg]
            def __init__(self) -> None:
                pass

            def __call__(self, input: list[str]) -> list[list[float]]:  # noqa: A002 - chromadb's signature
                return [[float(len(text)), 1.0, 0.0] for text in input]

        collection = client.create_collection("faq", embedding_function=Embedder())
        collection.add(ids=["q"], documents=["how do refunds work"])
        collection.query(query_texts=["refund please"], n_results=1)
        query = [s for s in on.spans("retrieval ") if s.attributes[RETRIEVAL_OPERATION] == "query"][0]
        assert query.attributes[GEN_AI_RETRIEVAL_QUERY_TEXT] == "refund please"
    finally:
        agentvitals.shutdown()


def test_uninstrumented_after_shutdown() -> None:
    import chromadb

    telemetry = make_telemetry()
    agentvitals.shutdown()
    client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
    client.create_collection("after", embedding_function=None).add(ids=["a"], embeddings=[VECTORS[0]])
    assert telemetry.spans("retrieval ") == []


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
