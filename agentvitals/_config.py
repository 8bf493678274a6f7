"""Settings for ``init()``: resolved once, frozen, validated as a whole.

One resolver per setting, each with the same precedence: an explicit argument (checked: a bad one is a
problem), then the environment variable (a bad value logs a warning and falls back), then the default.
:func:`resolve_settings` runs them all and raises one :class:`ConfigError` listing every problem.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from agentvitals import environment_variables as env
from agentvitals._explain._thresholds import THRESHOLD_VARIABLES, Thresholds
from agentvitals._redaction import Scrubber
from agentvitals.semconv import Generation, generation_from_opt_in

_logger = logging.getLogger("agentvitals")

__all__ = ["ConfigError", "Settings", "resolve_finding_thresholds", "resolve_settings"]

PROTOCOLS = ("http/protobuf", "grpc")
_DEFAULT_SERVICE_NAME = "unknown_service"
_DEFAULT_PROTOCOL = "http/protobuf"
_DEFAULT_ENDPOINTS = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}
_DEFAULT_SAMPLE_RATIO = 1.0
_DEFAULT_METRIC_EXPORT_INTERVAL = 10.0
_DEFAULT_CONTENT_MAX_LENGTH = 2000
_DEFAULT_SHUTDOWN_TIMEOUT = 3.0
_CONTENT_ON = {"true", "1", "span_only", "span_and_event"}
_CONTENT_OFF = {"false", "0", "no_content", "event_only", ""}
_CONTENT_EVENTS = {"event_only", "span_and_event"}

T = TypeVar("T")


class ConfigError(ValueError):
    """``init()`` was given a configuration it cannot use. The message lists every problem at once."""


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one ``init()`` call."""

    service_name: str
    endpoint: str | None = field(repr=False)  # may carry credentials: never in a log line as it is
    """OTLP base endpoint, or ``None`` when export is off."""
    protocol: str
    headers: Mapping[str, str] = field(repr=False)
    resource_attributes: Mapping[str, Any]
    sample_ratio: float
    metric_export_interval: float
    """Seconds."""
    capture_content: bool
    """Content on spans."""
    content_max_length: int
    instrumentations: tuple[str, ...] | None
    """``None``: every available one."""
    shutdown_timeout: float = _DEFAULT_SHUTDOWN_TIMEOUT
    """Seconds the final flush at exit (or ``shutdown()``) may take, whatever the Collector does."""
    traces_export: bool = True
    metrics_export: bool = True
    content_events: bool = False
    """LLM content on the conventions' inference details event (``event_only``/``span_and_event``)."""
    genai_names: Generation = Generation.CURRENT
    """Which generation of GenAI names spans and metrics use (``OTEL_SEMCONV_STABILITY_OPT_IN``)."""
    finding_thresholds: Thresholds = field(default_factory=Thresholds)
    """When the findings of each task's analysis fire."""
    trace_file: str | None = None
    """Also write exported spans here as OTLP JSON lines (for ``agentvitals explain`` without a stack)."""
    capture_db_literals: bool = False
    """Keep literals in exported SQL statements (and statement parameters); off: they become ``?``."""
    scrub: Scrubber | None = None
    """The user's scrubbing hook, applied to every exported attribute."""
    stream_usage: bool = False
    """Ask OpenAI-compatible chat streams for their usage (see ``AGENTVITALS_STREAM_USAGE``)."""


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _env_float(name: str, default: float, *, low: float, high: float | None = None, scale: float = 1.0) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw) * scale
    except ValueError:
        value = math.nan
    if not (value >= low and (high is None or value <= high)):
        _logger.warning("agentvitals: ignoring %s=%r (not a number in range); using %s", name, raw, default)
        return default
    return value


def _number(argument: object, problems: list[str], message: str, valid: Callable[[float], bool],
            from_env: Callable[[], float]) -> float:
    """A numeric setting: the argument if it is a valid number (else a problem), else the environment's."""
    if argument is None:
        return from_env()
    if _is_number(argument) and valid(float(argument)):  # type: ignore[arg-type]
        return float(argument)  # type: ignore[arg-type]
    problems.append(f"{message}, got {argument!r}")
    return from_env()


def _parse_pairs(raw: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value, got {item.strip()!r}")
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs


def _service_name(argument: object, problems: list[str]) -> str:
    if argument is not None and (not isinstance(argument, str) or not argument.strip()):
        problems.append(f"service_name must be a non-empty string, got {argument!r}")
        argument = None
    chosen = argument if isinstance(argument, str) else None
    return chosen or _env(env.OTEL_SERVICE_NAME) or _DEFAULT_SERVICE_NAME


def _protocol(argument: object, problems: list[str]) -> str:
    if argument is not None:
        if isinstance(argument, str) and argument in PROTOCOLS:
            return argument
        problems.append(f"protocol must be one of {', '.join(PROTOCOLS)}, got {argument!r}")
    from_env = _env(env.OTEL_EXPORTER_OTLP_PROTOCOL)
    if from_env is not None and from_env not in PROTOCOLS:
        _logger.warning("agentvitals: ignoring %s=%r; using %s", env.OTEL_EXPORTER_OTLP_PROTOCOL, from_env,
                        _DEFAULT_PROTOCOL)
        from_env = None
    return from_env or _DEFAULT_PROTOCOL


def _endpoint_problem(endpoint: str, protocol: str) -> str | None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"endpoint {endpoint!r} must be an http:// or https:// URL with a host"
    try:
        port = parts.port
    except ValueError:
        return f"endpoint {endpoint!r} has an invalid port"
    if protocol == "http/protobuf" and port == 4317:
        return f"endpoint {endpoint!r} is the OTLP gRPC port but protocol is http/protobuf (use :4318 or grpc)"
    if protocol == "grpc" and port == 4318:
        return f"endpoint {endpoint!r} is the OTLP HTTP port but protocol is grpc (use :4317 or http/protobuf)"
    return None


def _endpoint(argument: object, protocol: str, problems: list[str]) -> str | None:
    """The OTLP base endpoint, or ``None`` when export is off (``endpoint=False``)."""
    if argument is False:
        return None
    if isinstance(argument, str):
        endpoint = argument.rstrip("/")
        if problem := _endpoint_problem(endpoint, protocol):
            problems.append(problem)
        return endpoint
    if argument is not None and argument is not True:
        problems.append(f"endpoint must be a URL string or False, got {argument!r}")
        return None
    endpoint = (_env(env.OTEL_EXPORTER_OTLP_ENDPOINT) or _DEFAULT_ENDPOINTS[protocol]).rstrip("/")
    if problem := _endpoint_problem(endpoint, protocol):
        _logger.warning("agentvitals: ignoring %s: %s", env.OTEL_EXPORTER_OTLP_ENDPOINT, problem)
        return _DEFAULT_ENDPOINTS[protocol]
    return endpoint


def _headers(argument: object, problems: list[str]) -> dict[str, str]:
    if argument is not None:
        if isinstance(argument, Mapping) and all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in argument.items()):
            return dict(argument)
        problems.append("headers must be a mapping of str to str")
        return {}
    raw = _env(env.OTEL_EXPORTER_OTLP_HEADERS)
    if raw is None:
        return {}
    try:
        return _parse_pairs(raw)
    except ValueError as exc:
        # The value may hold secrets: never echo it.
        _logger.warning("agentvitals: ignoring %s (%s)", env.OTEL_EXPORTER_OTLP_HEADERS, str(exc).split(",")[0])
        return {}


def _resource_attributes(argument: object, problems: list[str]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    if raw := _env(env.OTEL_RESOURCE_ATTRIBUTES):
        try:
            resolved.update(_parse_pairs(raw))
        except ValueError as exc:
            _logger.warning("agentvitals: ignoring %s (%s)", env.OTEL_RESOURCE_ATTRIBUTES, exc)
    if argument is not None:
        if isinstance(argument, Mapping) and all(isinstance(k, str) for k in argument):
            resolved.update(argument)
        else:
            problems.append("resource_attributes must be a mapping with str keys")
    return resolved


def _capture_content(argument: object, problems: list[str]) -> bool:
    return _flag(argument, "capture_content", env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, problems,
                 on=_CONTENT_ON, off=_CONTENT_OFF, fallback="content capture stays off")


_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0", ""})


def _flag(argument: object, name: str, variable: str, problems: list[str], *, on: Collection[str] = _TRUE,
          off: Collection[str] = _FALSE, fallback: str = "using false") -> bool:
    """A boolean setting: the argument if it is one (else a problem), else one of ``on``/``off`` in the
    environment (anything else is logged and means off)."""
    if isinstance(argument, bool):
        return argument
    if argument is not None:
        problems.append(f"{name} must be True or False, got {argument!r}")
    raw = (_env(variable) or "").strip().lower()
    if raw in on:
        return True
    if raw not in off:
        _logger.warning("agentvitals: ignoring %s=%r; %s", variable, raw, fallback)
    return False


def _scrub(argument: object, problems: list[str]) -> Scrubber | None:
    if argument is not None:
        try:
            return Scrubber.of(argument)
        except ValueError as exc:
            problems.append(str(exc))
            return None
    raw = _env(env.AGENTVITALS_SCRUB_PATTERNS)
    if raw is None:
        return None
    try:
        return Scrubber.from_environment(raw)
    except ValueError as exc:  # the patterns may hold what they are meant to hide: never echo them
        _logger.warning("agentvitals: ignoring %s: %s", env.AGENTVITALS_SCRUB_PATTERNS, str(exc).split(" (")[0])
        return None


def _instrumentations(argument: object, problems: list[str]) -> tuple[str, ...] | None:
    if argument is not None:
        if isinstance(argument, str) or not isinstance(argument, Sequence) or not all(
                isinstance(name, str) for name in argument):
            problems.append("instrumentations must be a list of names, e.g. ['openai', 'httpx']")
            return None
        return tuple(argument)
    raw = _env(env.AGENTVITALS_INSTRUMENTATIONS)
    return tuple(name.strip() for name in raw.split(",") if name.strip()) if raw else None


def _content_events(capture_argument: object) -> bool:
    """The environment's event modes; an explicit ``capture_content`` argument means spans only."""
    if isinstance(capture_argument, bool):
        return False
    raw = (_env(env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT) or "").strip().lower()
    return raw in _CONTENT_EVENTS


def _genai_names(argument: object, problems: list[str]) -> Generation:
    if argument is not None:
        try:
            return Generation(argument)
        except ValueError:
            names = ", ".join(repr(g.value) for g in Generation)
            problems.append(f"genai_names must be one of {names}, got {argument!r}")
    return generation_from_opt_in(_env(env.OTEL_SEMCONV_STABILITY_OPT_IN))
def _finding_thresholds(argument: object, problems: list[str]) -> Thresholds:
    """Each threshold: from ``init(finding_thresholds={name: value})``, else its variable, else the default."""
    chosen: dict[str, float] = {}
    if argument is not None:
        if not isinstance(argument, Mapping) or not all(isinstance(k, str) for k in argument):
            problems.append("finding_thresholds must be a mapping of threshold names to positive numbers")
            argument = {}
        for name, value in argument.items():
            if name not in THRESHOLD_VARIABLES:
                problems.append(f"finding_thresholds: unknown threshold {name!r} (known: "
                                f"{', '.join(THRESHOLD_VARIABLES)})")
            elif not (_is_number(value) and value > 0):
                problems.append(f"finding_thresholds: {name} must be a positive number, got {value!r}")
            else:
                chosen[name] = float(value)
    defaults = Thresholds()
    for name, variable in THRESHOLD_VARIABLES.items():
        if name not in chosen:
            default = getattr(defaults, name)
            chosen[name] = _env_float(variable, default, low=math.ulp(0.0))
    return Thresholds(**chosen)


def resolve_finding_thresholds() -> Thresholds:
    """The thresholds from the environment (``agentvitals explain`` uses the ones the application would)."""
    return _finding_thresholds(None, [])


def _trace_file(argument: object, problems: list[str]) -> str | None:
    """A path whose directory exists (the file is created on the first export, appended to after)."""
    if argument is not None and argument is not False:
        if not isinstance(argument, (str, os.PathLike)) or not os.fspath(argument):
            problems.append(f"trace_file must be a file path, got {argument!r}")
            return None
        path = os.fspath(argument)
        if problem := _trace_file_problem(path):
            problems.append(problem)
            return None
        return str(path)
    if argument is False:
        return None
    raw = _env(env.AGENTVITALS_TRACE_FILE)
    if raw is None:
        return None
    if problem := _trace_file_problem(raw):
        _logger.warning("agentvitals: ignoring %s: %s", env.AGENTVITALS_TRACE_FILE, problem)
        return None
    return raw


def _trace_file_problem(path: str) -> str | None:
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"trace_file {path!r} is a directory"
    if not os.path.isdir(directory):
        return f"trace_file {path!r}: directory {directory!r} does not exist"
    return None


def _export_enabled(variable: str) -> bool:
    return (_env(variable) or "otlp").lower() != "none"


def resolve_settings(
    *,
    service_name: object = None,
    endpoint: object = None,
    protocol: object = None,
    headers: object = None,
    resource_attributes: object = None,
    sample_ratio: object = None,
    metric_export_interval: object = None,
    capture_content: object = None,
    content_max_length: object = None,
    instrumentations: object = None,
    shutdown_timeout: object = None,
    genai_names: object = None,
    finding_thresholds: object = None,
    trace_file: object = None,
    capture_db_literals: object = None,
    scrub: object = None,
    stream_usage: object = None,
) -> Settings:
    """Explicit argument > environment > default. Raises :class:`ConfigError` for bad arguments."""
    problems: list[str] = []
    resolved_protocol = _protocol(protocol, problems)
    resolved_endpoint = _endpoint(endpoint, resolved_protocol, problems)
    traces_export = _export_enabled(env.OTEL_TRACES_EXPORTER)
    metrics_export = _export_enabled(env.OTEL_METRICS_EXPORTER)
    if not traces_export and not metrics_export:
        resolved_endpoint = None
    settings = Settings(
        service_name=_service_name(service_name, problems),
        endpoint=resolved_endpoint,
        protocol=resolved_protocol,
        headers=_headers(headers, problems),
        resource_attributes=_resource_attributes(resource_attributes, problems),
        sample_ratio=_number(
            sample_ratio, problems, "sample_ratio must be a number in [0, 1]", lambda v: 0 <= v <= 1,
            lambda: _env_float(env.OTEL_TRACES_SAMPLER_ARG, _DEFAULT_SAMPLE_RATIO, low=0.0, high=1.0)),
        metric_export_interval=_number(
            metric_export_interval, problems, "metric_export_interval must be a positive number of seconds",
            lambda v: v > 0,
            lambda: _env_float(env.OTEL_METRIC_EXPORT_INTERVAL, _DEFAULT_METRIC_EXPORT_INTERVAL, low=0.001,
                               scale=0.001)),
        capture_content=_capture_content(capture_content, problems),
        content_max_length=int(_number(
            content_max_length, problems, "content_max_length must be a positive int",
            lambda v: v >= 1 and v == int(v) and isinstance(content_max_length, int),
            lambda: _env_float(env.AGENTVITALS_CONTENT_MAX_LENGTH, _DEFAULT_CONTENT_MAX_LENGTH, low=1))),
        instrumentations=_instrumentations(instrumentations, problems),
        shutdown_timeout=_number(
            shutdown_timeout, problems, "shutdown_timeout must be a non-negative number of seconds",
            lambda v: v >= 0,
            lambda: _env_float(env.AGENTVITALS_SHUTDOWN_TIMEOUT, _DEFAULT_SHUTDOWN_TIMEOUT, low=0.0)),
        traces_export=traces_export and resolved_endpoint is not None,
        metrics_export=metrics_export and resolved_endpoint is not None,
        content_events=_content_events(capture_content),
        genai_names=_genai_names(genai_names, problems),
        finding_thresholds=_finding_thresholds(finding_thresholds, problems),
        trace_file=_trace_file(trace_file, problems),
        capture_db_literals=_flag(capture_db_literals, "capture_db_literals", env.AGENTVITALS_CAPTURE_DB_LITERALS,
                                  problems),
        scrub=_scrub(scrub, problems),
        stream_usage=_flag(stream_usage, "stream_usage", env.AGENTVITALS_STREAM_USAGE, problems),
    )
    if problems:
        raise ConfigError("agentvitals.init(): " + "; ".join(problems))
    return settings
