"""What must not leave the process, the parts used outside the export path too: URL secrets (also kept out of
the URLs we log), SQL literals, and the user's scrubbing hook. The export-time pass over each span is
:mod:`agentvitals._sdk._redaction`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_logger = logging.getLogger("agentvitals")

__all__ = ["DROP", "REDACTED", "SCRUBBED", "ScrubFunction", "Scrubber", "redact_query", "redact_url", "sanitize_sql"]

REDACTED = "REDACTED"
"""What replaces a URL's userinfo, query values and fragment (the value the HTTP conventions prescribe)."""
SCRUBBED = "[REDACTED]"
"""What replaces a sensitive header value and each match of a user's scrubbing pattern."""

IDENTIFIER_QUOTING_DATABASES = frozenset({
    "postgresql", "sqlite", "oracle.db", "oracle", "microsoft.sql_server", "mssql", "ibm.db2", "db2", "cockroachdb",
    "duckdb", "trino", "h2", "hsqldb", "derby",
})
"""Databases where ``"..."`` is an identifier, not a string: kept. Elsewhere (MySQL, unknown) it is a literal."""

DROP: Any = object()
"""What a scrubbing hook returns for a value that must not be exported."""


def redact_query(query: str) -> str:
    """Every value replaced, the keys kept (``a=REDACTED&b=REDACTED``)."""
    pairs = []
    for pair in re.split(r"([&;])", query):
        if pair in ("&", ";") or not pair:
            pairs.append(pair)
            continue
        key, sep, value = pair.partition("=")
        pairs.append(f"{key}={REDACTED}" if sep and value else (pair if sep else REDACTED))
    return "".join(pairs)


def redact_url(url: str) -> str:
    """``url`` without credentials: userinfo, every query value and the fragment become ``REDACTED``
    (paths and hosts are kept). Returns ``url`` itself when there was nothing to redact."""
    if "@" not in url and "?" not in url and "#" not in url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:  # not a URL we can parse: keep only what precedes any query or fragment, no userinfo
        return re.sub(r"//[^/@]*@", f"//{REDACTED}:{REDACTED}@", re.split(r"[?#]", url, maxsplit=1)[0])
    if "@" in netloc:
        netloc = f"{REDACTED}:{REDACTED}@{netloc.rpartition('@')[2]}"
    query = redact_query(parts.query) if parts.query else ""
    fragment = REDACTED if parts.fragment else ""
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


# --- SQL ------------------------------------------------------------------------------------------------
_SQL_TOKENS = re.compile(
    r"""
      (?P<single>'(?:[^'\\]|\\.|'')*')                      # 'string', with '' or \' inside
    | (?P<dollar>\$(?P<tag>[A-Za-z_]\w*|)\$.*?\$(?P=tag)\$)  # PostgreSQL $$string$$ / $tag$string$tag$
    | (?P<double>"(?:[^"\\]|\\.|"")*")                      # "identifier" (or a MySQL string)
    | (?P<backtick>`[^`]*`)                                 # `identifier`
    | (?P<number>(?<![\w$.:])(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w$]))
    """,
    re.VERBOSE | re.DOTALL,
)
_UNTERMINATED = re.compile(r"'|\$(?:[A-Za-z_]\w*)?\$")
_CACHED_STATEMENT_LENGTH = 4096


def _sanitize(statement: str, strings_in_double_quotes: bool) -> str:
    def literal(match: re.Match[str]) -> str:
        if match.lastgroup == "backtick" or (match.lastgroup == "double" and not strings_in_double_quotes):
            return match.group(0)
        return "?"

    sanitized = _SQL_TOKENS.sub(literal, statement)
    # A literal that never ends (truncated or malformed SQL) hides everything after its opening: cut there.
    unterminated = _UNTERMINATED.search(sanitized)
    if unterminated is None and strings_in_double_quotes and '"' in sanitized:
        unterminated = re.search('"', sanitized)
    return sanitized if unterminated is None else sanitized[: unterminated.start()] + "?"


_sanitized: dict[tuple[str, bool], str] = {}


def sanitize_sql(statement: str, system: object = None) -> str:
    """``statement`` with its literals (strings, numbers) replaced by ``?``, as the database conventions
    recommend; placeholders, identifiers and keywords are kept. ``system`` is ``db.system.name``."""
    strings_in_double_quotes = system not in IDENTIFIER_QUOTING_DATABASES
    if len(statement) > _CACHED_STATEMENT_LENGTH:
        return _sanitize(statement, strings_in_double_quotes)
    key = (statement, strings_in_double_quotes)
    cached = _sanitized.get(key)
    if cached is None:
        if len(_sanitized) >= 512:  # bounded: applications run a bounded set of statements, mostly
            _sanitized.clear()
        cached = _sanitized[key] = _sanitize(statement, strings_in_double_quotes)
    return cached


# --- the user's scrubbing hook --------------------------------------------------------------------------
ScrubFunction = Callable[[str, Any], Any]
"""``(key, value) -> value``: the value to export instead (``None``: drop the attribute)."""


class Scrubber:
    """The user's hook: regular expressions whose matches become ``[REDACTED]`` in every exported string,
    and/or a function given each attribute (key and value) that returns what to export instead."""

    def __init__(self, patterns: Sequence[re.Pattern[str]] = (), function: ScrubFunction | None = None) -> None:
        self.patterns = tuple(patterns)
        self.function = function
        self._failure_logged = False

    @classmethod
    def of(cls, spec: object) -> Scrubber:
        """From ``init(scrub=...)``: a callable, or a sequence of regular expressions (strings or compiled).
        Raises ValueError for anything else or a pattern that does not compile."""
        if callable(spec):
            return cls(function=spec)
        if isinstance(spec, (str, re.Pattern)):
            spec = [spec]
        if not isinstance(spec, Sequence) or not all(isinstance(p, (str, re.Pattern)) for p in spec):
            raise ValueError("scrub must be a function (key, value) -> value or a list of regular expressions")
        patterns = []
        for pattern in spec:
            try:
                patterns.append(pattern if isinstance(pattern, re.Pattern) else re.compile(pattern))
            except re.error as exc:
                raise ValueError(f"scrub pattern {pattern!r} does not compile ({exc})") from None
        return cls(patterns)

    @classmethod
    def from_environment(cls, raw: str) -> Scrubber:
        """From ``AGENTVITALS_SCRUB_PATTERNS``: a JSON list of regular expressions, or a single one."""
        spec: object = raw
        if raw.lstrip().startswith("["):
            try:
                spec = json.loads(raw)
            except ValueError:
                raise ValueError("not a JSON list of regular expressions") from None
        return cls.of(spec)

    def text(self, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.sub(SCRUBBED, text)
        return text

    def value(self, key: str, value: Any) -> Any:
        """The value to export (``DROP``: none)."""
        if self.patterns:
            if isinstance(value, str):
                value = self.text(value)
            elif isinstance(value, (tuple, list)) and value and isinstance(value[0], str):
                value = tuple(self.text(item) if isinstance(item, str) else item for item in value)
        if self.function is not None:
            try:
                value = self.function(key, value)
            except Exception as exc:  # deliberate: a failing hook drops the value (fail closed), never the span
                if not self._failure_logged:
                    self._failure_logged = True
                    _logger.warning("agentvitals: the scrub hook raised %s; the attributes it fails on are dropped",
                                    type(exc).__name__)
                return DROP
            if value is None:
                return DROP
        return value
