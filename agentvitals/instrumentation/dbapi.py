"""Database drivers through the contrib DB-API instrumentation (``opentelemetry-instrumentation-dbapi``).

One table of DB-API drivers: the module, its connect function, the database system name, and the
connection-level shortcuts (``connection.execute``) to trace as well (see ``_db_shortcuts``). The
driver-specific contrib packages (``...-sqlite3``, ``...-psycopg``, ``...-sqlalchemy``) do the same
wrapping, but their current releases pin an ``opentelemetry-instrumentation`` version that
conflicts with the httpx instrumentor's; SQLAlchemy is covered through the driver it runs on.
Parameter values are never captured; ``init()`` selects the stable DB conventions.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, cast

__all__ = ["DRIVERS", "DBAPIInstrumentor"]


@dataclass(frozen=True)
class Driver:
    module: str
    system: str
    """``db.system.name``."""
    connect_modules: tuple[str, ...] = ()
    """Every module whose ``connect`` opens connections (default: just ``module``)."""
    shortcuts: tuple[str, ...] = ()
    """Connection methods that run SQL on a cursor of their own."""


DRIVERS = (
    # SQLAlchemy's SQLite dialect connects through sqlite3.dbapi2, a separate module attribute.
    Driver("sqlite3", "sqlite", ("sqlite3", "sqlite3.dbapi2"), shortcuts=("execute", "executemany")),
    Driver("psycopg", "postgresql", shortcuts=("execute",)),
    Driver("psycopg2", "postgresql"),
    Driver("pymysql", "mysql"),
)


class DBAPIInstrumentor:
    """Wraps one driver's ``connect``; connections opened afterwards trace their cursors."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._modules: list[Any] = []

    @classmethod
    def for_driver(cls, module: str) -> DBAPIInstrumentor:
        return cls(next(driver for driver in DRIVERS if driver.module == module))

    def instrument(self, **kwargs: Any) -> None:
        from opentelemetry.instrumentation.dbapi import wrap_connect

        from agentvitals.instrumentation._db_shortcuts import integration_tracing

        integration = integration_tracing(self.driver.shortcuts) if self.driver.shortcuts else None
        for name in self.driver.connect_modules or (self.driver.module,):
            module = importlib.import_module(name)
            # Typed as a callable upstream; its documented use (and implementation) is the module that has connect.
            wrap_connect(__name__, cast(Any, module), "connect", self.driver.system, {"database": "database"},
                         tracer_provider=kwargs.get("tracer_provider"), meter_provider=kwargs.get("meter_provider"),
                         capture_parameters=False, db_api_integration_factory=integration)
            self._modules.append(module)

    def uninstrument(self) -> None:
        from opentelemetry.instrumentation.dbapi import unwrap_connect

        while self._modules:
            unwrap_connect(self._modules.pop(), "connect")
