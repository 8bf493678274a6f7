"""Settings for ``init()``: resolved once, frozen, validated as a whole."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from agentvitals import environment_variables as env

_logger = logging.getLogger("agentvitals")

__all__ = ["ConfigError", "Settings", "resolve_settings"]

PROTOCOLS = ("http/protobuf", "grpc")
_DEFAULT_SERVICE_NAME = "unknown_service"
_DEFAULT_PROTOCOL = "http/protobuf"
_DEFAULT_ENDPOINTS = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}
_DEFAULT_SAMPLE_RATIO = 1.0
_DEFAULT_METRIC_EXPORT_INTERVAL = 10.0
_DEFAULT_CONTENT_MAX_LENGTH = 2000
_CONTENT_ON = {"true", "1", "span_only", "span_and_event"}
_CONTENT_OFF = {"false", "0", "no_content", "event_only", ""}


class ConfigError(ValueError):
    """``init()`` was given a configuration it cannot use. The message lists every problem at once."""


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one ``init()`` call."""

    service_name: str
    endpoint: str | None
    """OTLP base endpoint, or ``None`` when export is off."""
    protocol: str
    headers: Mapping[str, str] = field(repr=False)
    resource_attributes: Mapping[str, str]
    sample_ratio: float
    metric_export_interval: float
    """Seconds."""
    capture_content: bool
    content_max_length: int
    instrumentations: tuple[str, ...] | None
    """``None``: every available one."""
    traces_export: bool = True
    metrics_export: bool = True


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


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _env_float(name: str, default: float, *, low: float, high: float | None = None, scale: float = 1.0) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw) * scale
    except ValueError:
        value = float("nan")
    if not (value >= low and (high is None or value <= high)):
        _logger.warning("agentvitals: ignoring %s=%r (not a number in range); using %s", name, raw, default)
        return default
    return value


def _check_endpoint(endpoint: str, protocol: str) -> str | None:
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


def resolve_settings(
    *,
    service_name: str | None,
    endpoint: str | bool | None,
    protocol: str | None,
    headers: Mapping[str, str] | None,
    resource_attributes: Mapping[str, Any] | None,
    sample_ratio: float | None,
    metric_export_interval: float | None,
    capture_content: bool | None,
    content_max_length: int | None,
    instrumentations: tuple[str, ...] | list[str] | None,
) -> Settings:
    """Explicit argument > environment > default. Raises :class:`ConfigError` for bad arguments."""
    problems: list[str] = []

    if service_name is not None and (not isinstance(service_name, str) or not service_name.strip()):
        problems.append(f"service_name must be a non-empty string, got {service_name!r}")
    resolved_service = service_name or _env(env.OTEL_SERVICE_NAME) or _DEFAULT_SERVICE_NAME

    if protocol is not None and protocol not in PROTOCOLS:
        problems.append(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    resolved_protocol = protocol if protocol in PROTOCOLS else None
    if resolved_protocol is None:
        env_protocol = _env(env.OTEL_EXPORTER_OTLP_PROTOCOL)
        if env_protocol is not None and env_protocol not in PROTOCOLS:
            _logger.warning("agentvitals: ignoring %s=%r; using %s", env.OTEL_EXPORTER_OTLP_PROTOCOL, env_protocol,
                            _DEFAULT_PROTOCOL)
            env_protocol = None
        resolved_protocol = env_protocol or _DEFAULT_PROTOCOL

    traces_export = (_env(env.OTEL_TRACES_EXPORTER) or "otlp").lower() != "none"
    metrics_export = (_env(env.OTEL_METRICS_EXPORTER) or "otlp").lower() != "none"
    resolved_endpoint: str | None
    if endpoint is False:
        resolved_endpoint = None
    elif isinstance(endpoint, str):
        resolved_endpoint = endpoint.rstrip("/")
        if problem := _check_endpoint(resolved_endpoint, resolved_protocol):
            problems.append(problem)
    elif endpoint is None or endpoint is True:
        resolved_endpoint = (_env(env.OTEL_EXPORTER_OTLP_ENDPOINT) or _DEFAULT_ENDPOINTS[resolved_protocol]).rstrip("/")
        if problem := _check_endpoint(resolved_endpoint, resolved_protocol):
            _logger.warning("agentvitals: ignoring %s: %s", env.OTEL_EXPORTER_OTLP_ENDPOINT, problem)
            resolved_endpoint = _DEFAULT_ENDPOINTS[resolved_protocol]
    else:
        problems.append(f"endpoint must be a URL string or False, got {endpoint!r}")
        resolved_endpoint = None
    if not traces_export and not metrics_export:
        resolved_endpoint = None

    resolved_headers: dict[str, str] = {}
    if headers is not None:
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            problems.append("headers must be a mapping of str to str")
        else:
            resolved_headers = dict(headers)
    elif raw := _env(env.OTEL_EXPORTER_OTLP_HEADERS):
        try:
            resolved_headers = _parse_pairs(raw)
        except ValueError as exc:
            # The value may hold secrets: never echo it.
            _logger.warning("agentvitals: ignoring %s (%s)", env.OTEL_EXPORTER_OTLP_HEADERS, str(exc).split(",")[0])

    resolved_resource: dict[str, str] = {}
    if raw := _env(env.OTEL_RESOURCE_ATTRIBUTES):
        try:
            resolved_resource.update(_parse_pairs(raw))
        except ValueError as exc:
            _logger.warning("agentvitals: ignoring %s (%s)", env.OTEL_RESOURCE_ATTRIBUTES, exc)
    if resource_attributes is not None:
        if not isinstance(resource_attributes, Mapping) or not all(isinstance(k, str) for k in resource_attributes):
            problems.append("resource_attributes must be a mapping with str keys")
        else:
            resolved_resource.update({k: v for k, v in resource_attributes.items()})

    if sample_ratio is not None:
        if isinstance(sample_ratio, bool) or not isinstance(sample_ratio, (int, float)) or not 0 <= sample_ratio <= 1:
            problems.append(f"sample_ratio must be a number in [0, 1], got {sample_ratio!r}")
        resolved_ratio = float(sample_ratio) if not problems or isinstance(sample_ratio, (int, float)) else 1.0
    else:
        resolved_ratio = _env_float(env.OTEL_TRACES_SAMPLER_ARG, _DEFAULT_SAMPLE_RATIO, low=0.0, high=1.0)

    if metric_export_interval is not None:
        if (
            isinstance(metric_export_interval, bool)
            or not isinstance(metric_export_interval, (int, float))
            or metric_export_interval <= 0
        ):
            problems.append(
                f"metric_export_interval must be a positive number of seconds, got {metric_export_interval!r}"
            )
            resolved_interval = _DEFAULT_METRIC_EXPORT_INTERVAL
        else:
            resolved_interval = float(metric_export_interval)
    else:
        resolved_interval = _env_float(
            env.OTEL_METRIC_EXPORT_INTERVAL, _DEFAULT_METRIC_EXPORT_INTERVAL, low=0.001, scale=0.001
        )

    if capture_content is not None and not isinstance(capture_content, bool):
        problems.append(f"capture_content must be True or False, got {capture_content!r}")
    resolved_capture = capture_content if isinstance(capture_content, bool) else None
    if resolved_capture is None:
        raw_capture = (_env(env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT) or "").strip().lower()
        if raw_capture in _CONTENT_ON:
            resolved_capture = True
        else:
            if raw_capture not in _CONTENT_OFF:
                _logger.warning("agentvitals: ignoring %s=%r; content capture stays off",
                                env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, raw_capture)
            resolved_capture = False

    if content_max_length is not None and (
        isinstance(content_max_length, bool) or not isinstance(content_max_length, int) or content_max_length < 1
    ):
        problems.append(f"content_max_length must be a positive int, got {content_max_length!r}")
    resolved_max = (
        content_max_length
        if isinstance(content_max_length, int) and not isinstance(content_max_length, bool) and content_max_length > 0
        else int(_env_float(env.AGENTVITALS_CONTENT_MAX_LENGTH, _DEFAULT_CONTENT_MAX_LENGTH, low=1))
    )

    resolved_instrumentations: tuple[str, ...] | None = None
    if instrumentations is not None:
        if isinstance(instrumentations, str) or not all(isinstance(name, str) for name in instrumentations):
            problems.append("instrumentations must be a list of names, e.g. ['openai', 'httpx']")
        else:
            resolved_instrumentations = tuple(instrumentations)
    elif raw := _env(env.AGENTVITALS_INSTRUMENTATIONS):
        resolved_instrumentations = tuple(name.strip() for name in raw.split(",") if name.strip())

    if problems:
        raise ConfigError("agentvitals.init(): " + "; ".join(problems))

    return Settings(
        service_name=resolved_service,
        endpoint=resolved_endpoint,
        protocol=resolved_protocol,
        headers=resolved_headers,
        resource_attributes=resolved_resource,
        sample_ratio=resolved_ratio,
        metric_export_interval=resolved_interval,
        capture_content=resolved_capture,
        content_max_length=resolved_max,
        instrumentations=resolved_instrumentations,
        traces_export=traces_export and resolved_endpoint is not None,
        metrics_export=metrics_export and resolved_endpoint is not None,
    )
