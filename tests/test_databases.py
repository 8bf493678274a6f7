"""Databases through init(): sqlite3 and SQLAlchemy in process, PostgreSQL (psycopg) and redis against
real servers on loopback. Stable DB conventions, no parameter values, and DB time counted as idle."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentvitals
from agentvitals._spans import wait_kind
from agentvitals.attributes import TASK_ACTIVE_TIME, TASK_IDLE_TIME, WaitKind, task_idle_time
from agentvitals.metrics import DB_DURATION
from agentvitals.semconv import DB_OPERATION_NAME, DB_QUERY_TEXT, DB_SYSTEM_NAME
from tests.conftest import Telemetry
from tests.stack import PostgresServer, RedisServer

SECRET_PARAMETER = "parameter-value-that-must-not-leak"


def db_spans(telemetry: Telemetry, system: str) -> list:  # type: ignore[type-arg]
    return [s for s in telemetry.spans() if s.attributes.get(DB_SYSTEM_NAME) == system]


def assert_no_parameter_values(telemetry: Telemetry) -> None:
    for span in telemetry.spans():
        assert all(SECRET_PARAMETER not in str(v) for v in span.attributes.values()), span.name


def test_sqlite3_spans_metrics_and_idle(telemetry: Telemetry) -> None:
    with agentvitals.task("db-task"):
        connection = sqlite3.connect(":memory:")
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE notes (id INTEGER, body TEXT)")
        cursor.execute("INSERT INTO notes VALUES (?, ?)", (1, SECRET_PARAMETER))
        cursor.execute("SELECT body FROM notes WHERE id = ?", (1,))
        connection.close()
    spans = db_spans(telemetry, "sqlite")
    assert [s.name for s in spans] == ["CREATE", "INSERT", "SELECT"]
    assert spans[1].attributes["db.query.text"] == "INSERT INTO notes VALUES (?, ?)"
    assert_no_parameter_values(telemetry)
    task = telemetry.span("invoke_agent db-task")
    assert task.attributes[task_idle_time(WaitKind.DB)] > 0
    operations = {p.attributes[DB_OPERATION_NAME] for p in telemetry.points(DB_DURATION.name)}
    assert operations == {"CREATE", "INSERT", "SELECT"}
    assert tuple(telemetry.points(DB_DURATION.name)[0].explicit_bounds) == DB_DURATION.buckets  # ours, in s


def test_sqlalchemy_on_sqlite_is_traced_through_its_driver(telemetry: Telemetry, tmp_path: Path) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with agentvitals.task("orm"), engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE t (x TEXT)"))
        connection.execute(sqlalchemy.text("INSERT INTO t VALUES (:x)"), {"x": SECRET_PARAMETER})
        assert connection.execute(sqlalchemy.text("SELECT count(*) FROM t")).scalar() == 1
    assert {"CREATE", "INSERT", "SELECT"} <= {s.name for s in db_spans(telemetry, "sqlite")}
    assert_no_parameter_values(telemetry)
    assert telemetry.span("invoke_agent orm").attributes[task_idle_time(WaitKind.DB)] > 0


def test_sqlite3_connection_shortcuts_are_traced_through_a_cursor(telemetry: Telemetry) -> None:
    with agentvitals.task("shortcut-task"):
        connection = sqlite3.connect(":memory:")
        connection.execute("CREATE TABLE notes (id INTEGER, body TEXT)")
        connection.executemany("INSERT INTO notes VALUES (?, ?)", [(1, SECRET_PARAMETER), (2, "b")])
        with connection:  # the transaction context manager still hands back the traced connection
            rows = connection.execute("SELECT count(*) FROM notes WHERE id > ?", (0,))
        assert isinstance(rows, sqlite3.Cursor) and rows.fetchone() == (2,)
        connection.close()
    spans = db_spans(telemetry, "sqlite")
    assert [s.name for s in spans] == ["CREATE", "INSERT", "SELECT"]
    assert spans[1].attributes["db.query.text"] == "INSERT INTO notes VALUES (?, ?)"
    assert_no_parameter_values(telemetry)
    assert telemetry.span("invoke_agent shortcut-task").attributes[task_idle_time(WaitKind.DB)] > 0


def test_uninstrumented_sqlite3_connections_are_plain_again(telemetry: Telemetry) -> None:
    agentvitals.shutdown()
    connection = sqlite3.connect(":memory:")
    assert type(connection) is sqlite3.Connection
    connection.execute("SELECT 1")
    assert db_spans(telemetry, "sqlite") == []


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with PostgresServer(tmp_path_factory.mktemp("pg")).running() as server:
        yield server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")).running() as server:
        yield server


@pytest.mark.stack
def test_postgresql_with_psycopg(telemetry: Telemetry, postgres: PostgresServer) -> None:
    import psycopg

    with agentvitals.task("pg-task"), psycopg.connect(postgres.url) as connection:
        cursor = connection.cursor()
        cursor.execute("CREATE TEMP TABLE orders (id int, customer text)")
        cursor.execute("INSERT INTO orders VALUES (%s, %s)", (7, SECRET_PARAMETER))
        cursor.execute("SELECT customer FROM orders WHERE id = %s", (7,))
        assert cursor.fetchone() == (SECRET_PARAMETER,)
        # Connection.execute runs on a cursor of its own: traced too, options passed through.
        assert connection.execute("UPDATE orders SET id = %s WHERE id = %s", (8, 7), prepare=False).rowcount == 1
        assert connection.execute("SELECT id FROM orders", binary=True).fetchone() == (8,)
    spans = db_spans(telemetry, "postgresql")
    assert {"CREATE", "INSERT", "SELECT", "UPDATE"} <= {s.name for s in spans}
    assert sum(s.name == "SELECT" for s in spans) == 2
    assert any(s.attributes.get("db.query.text") == "INSERT INTO orders VALUES (%s, %s)" for s in spans)
    assert_no_parameter_values(telemetry)
    task = telemetry.span("invoke_agent pg-task")
    assert all(s.parent is not None for s in spans)
    assert task.attributes[task_idle_time(WaitKind.DB)] > 0


@pytest.mark.stack
def test_redis(telemetry: Telemetry, redis_server: RedisServer) -> None:
    import redis

    client = redis.Redis(port=redis_server.port)
    with agentvitals.task("cache-task"):
        client.set("session:1", SECRET_PARAMETER)
        assert client.get("session:1") == SECRET_PARAMETER.encode()
    spans = [s for s in telemetry.spans() if s.name in ("SET", "GET")]
    assert [s.name for s in spans] == ["SET", "GET"]
    assert all(wait_kind(s.attributes, s.kind) is WaitKind.DB for s in spans)
    assert all(s.attributes[DB_SYSTEM_NAME] == "redis" for s in spans)  # stable conventions
    assert spans[0].attributes[DB_QUERY_TEXT] == "SET ? ?"  # arguments sanitised away
    assert_no_parameter_values(telemetry)
    assert telemetry.span("invoke_agent cache-task").attributes[task_idle_time(WaitKind.DB)] > 0


def test_mixed_task_idle_breakdown_matches_its_spans(telemetry: Telemetry) -> None:
    with agentvitals.task("mixed"):
        with agentvitals.llm_call("openai", "gpt-4o-mini") as call:
            time.sleep(0.03)
            call.record(input_tokens=10, output_tokens=5)
        with agentvitals.tool("lookup"):
            time.sleep(0.02)
        with agentvitals.retrieval("kb"):
            time.sleep(0.01)
        connection = sqlite3.connect(":memory:")
        connection.cursor().execute("SELECT 1")
        time.sleep(0.015)  # own compute between waits: active time
    task = telemetry.span("invoke_agent mixed")
    kinds = {"llm": "chat ", "tool": "execute_tool ", "retrieval": "retrieval ", "db": "SELECT"}
    for kind, prefix in kinds.items():
        waited = sum((s.end_time - s.start_time) / 1e9 for s in telemetry.spans(prefix))
        assert task.attributes[task_idle_time(kind)] == pytest.approx(waited, abs=1e-6), kind
    idle = task.attributes[TASK_IDLE_TIME]
    assert idle == pytest.approx(sum(task.attributes[task_idle_time(k)] for k in kinds), abs=1e-6)
    assert task.attributes[TASK_ACTIVE_TIME] >= 0.014


@pytest.mark.parametrize(("query", "kind"), [
    ("SELECT id FROM docs ORDER BY embedding <=> %s LIMIT 5", WaitKind.RETRIEVAL),
    ("SELECT id FROM docs ORDER BY embedding <-> '[1,2,3]' LIMIT 5", WaitKind.RETRIEVAL),
    ("SELECT id FROM docs WHERE id = %s", WaitKind.DB),
])
def test_pgvector_queries_count_as_retrieval(query: str, kind: WaitKind) -> None:
    from opentelemetry.trace import SpanKind

    assert wait_kind({DB_SYSTEM_NAME: "postgresql", "db.query.text": query}, SpanKind.CLIENT) is kind


@pytest.mark.stack
@pytest.mark.slow
def test_demo_agent_on_postgresql(postgres: PostgresServer) -> None:
    import asyncio

    from agentvitals.demo.runner import DemoConfig, run_demo
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    run = asyncio.run(run_demo(DemoConfig(phases="steady:4", rate=3, seed=6, progress=False, db_url=postgres.url,
                                          init_kwargs={"span_exporter": exporter})))
    assert run.report.tasks > 3 and run.report.outcomes.get("success", 0) > 0
    statements = {s.name for s in exporter.get_finished_spans()
                  if s.attributes.get(DB_SYSTEM_NAME) == "postgresql"}
    assert {"SELECT", "INSERT"} <= statements
