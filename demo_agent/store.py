"""The agent's database: orders to read, conversations to write. SQLite by default, PostgreSQL by URL.

Calls run in a worker thread (``asyncio.to_thread``) so the event loop never blocks on the DB; the
OpenTelemetry context follows them there, so DB spans nest under the task.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from typing import Any

__all__ = ["Store"]

ORDERS = 500
_STATUSES = ("processing", "shipped", "in_transit", "delivered", "returned")


class Store:
    def __init__(self, url: str | None = None) -> None:
        self.url = url or "sqlite:///:memory:"
        self._lock = threading.Lock()
        self._connection: Any = None
        self._postgres = self.url.startswith(("postgres://", "postgresql://"))
        self._placeholder = "%s" if self._postgres else "?"

    def _connect(self) -> Any:
        if self._postgres:
            import psycopg  # optional: only for --db-url postgresql://...

            return psycopg.connect(self.url, autocommit=True)
        path = self.url.removeprefix("sqlite:///")
        return sqlite3.connect(path, check_same_thread=False, isolation_level=None)

    def _setup(self) -> None:
        self._connection = self._connect()
        serial = "SERIAL" if self._postgres else "INTEGER"
        statements = [
            "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT, status TEXT, total REAL)",
            f"CREATE TABLE IF NOT EXISTS conversations (id {serial} PRIMARY KEY, order_id INTEGER, "
            "question TEXT, answer TEXT, model TEXT)",
        ]
        rng = random.Random(3)
        rows = [(i, f"customer-{i % 97}", rng.choice(_STATUSES), round(rng.uniform(9, 400), 2)) for i in range(ORDERS)]
        p = self._placeholder
        with self._lock:
            cursor = self._connection.cursor()
            for statement in statements:
                cursor.execute(statement)
            cursor.execute("DELETE FROM orders")
            cursor.executemany(f"INSERT INTO orders (id, customer, status, total) VALUES ({p}, {p}, {p}, {p})", rows)

    async def setup(self) -> None:
        await asyncio.to_thread(self._setup)

    def _order(self, order_id: int) -> dict[str, Any] | None:
        p = self._placeholder
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute(f"SELECT id, customer, status, total FROM orders WHERE id = {p}", (order_id,))
            row = cursor.fetchone()
        return None if row is None else dict(zip(("id", "customer", "status", "total"), row, strict=True))

    async def order(self, order_id: int) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._order, order_id)

    def _save(self, order_id: int, question: str, answer: str, model: str) -> None:
        p = self._placeholder
        with self._lock:
            self._connection.cursor().execute(
                f"INSERT INTO conversations (order_id, question, answer, model) VALUES ({p}, {p}, {p}, {p})",
                (order_id, question, answer, model),
            )

    async def save_conversation(self, order_id: int, question: str, answer: str, model: str) -> None:
        await asyncio.to_thread(self._save, order_id, question, answer, model)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
