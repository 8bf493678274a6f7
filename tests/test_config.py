"""init() configuration: argument > OTEL_* environment > default; bad arguments give one clear error."""

from __future__ import annotations

from unittest import mock

import pytest

import agentvitals
from agentvitals._config import resolve_settings

DEFAULTS = dict(service_name=None, endpoint=None, protocol=None, headers=None, resource_attributes=None,
                sample_ratio=None, metric_export_interval=None, capture_content=None, content_max_length=None,
                instrumentations=None)


def resolve(**kwargs: object):  # type: ignore[no-untyped-def]
    return resolve_settings(**{**DEFAULTS, **kwargs})  # type: ignore[arg-type]


def test_defaults() -> None:
    with mock.patch.dict("os.environ", {}, clear=True):
        settings = resolve()
    assert settings.endpoint == "http://localhost:4318"
    assert settings.protocol == "http/protobuf"
    assert settings.capture_content is False
    assert settings.sample_ratio == 1.0
    assert settings.metric_export_interval == 10.0


def test_environment_then_argument_precedence() -> None:
    env = {
        "OTEL_SERVICE_NAME": "from-env",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20x",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_METRIC_EXPORT_INTERVAL": "5000",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
    }
    with mock.patch.dict("os.environ", env, clear=True):
        from_env = resolve()
        from_args = resolve(service_name="from-arg", endpoint="http://other:4318", protocol="http/protobuf",
                            sample_ratio=1.0, capture_content=False)
    assert from_env.service_name == "from-env"
    assert (from_env.endpoint, from_env.protocol) == ("http://collector:4317", "grpc")
    assert from_env.headers == {"authorization": "Bearer x"}
    assert from_env.sample_ratio == 0.25 and from_env.metric_export_interval == 5.0
    assert from_env.capture_content is True
    assert (from_args.service_name, from_args.endpoint, from_args.protocol) == ("from-arg", "http://other:4318",
                                                                               "http/protobuf")
    assert from_args.sample_ratio == 1.0 and from_args.capture_content is False


def test_bad_environment_values_fall_back_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with mock.patch.dict("os.environ", {"OTEL_TRACES_SAMPLER_ARG": "lots", "OTEL_EXPORTER_OTLP_PROTOCOL": "smoke"},
                         clear=True):
        settings = resolve()
    assert settings.sample_ratio == 1.0 and settings.protocol == "http/protobuf"
    assert len(caplog.records) == 2


def test_bad_arguments_raise_one_error_listing_all_problems() -> None:
    with pytest.raises(agentvitals.ConfigError) as raised:
        agentvitals.init(endpoint="collector:4318", sample_ratio=3, protocol="udp", capture_content="yes")
    message = str(raised.value)
    for fragment in ("endpoint", "sample_ratio", "protocol", "capture_content"):
        assert fragment in message
    assert message.count("\n") == 0


def test_protocol_port_mismatch_is_explained() -> None:
    with pytest.raises(agentvitals.ConfigError, match="OTLP gRPC port but protocol is http/protobuf"):
        resolve(endpoint="http://localhost:4317")


def test_bad_pricing_override_at_init_is_one_clear_error() -> None:
    with pytest.raises(agentvitals.ConfigError, match="pricing.openai.m.input"):
        agentvitals.init(endpoint=False, pricing={"openai": {"m": {"input": "x", "output": 1}}})


def test_export_disabled_by_env() -> None:
    with mock.patch.dict("os.environ", {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}, clear=True):
        assert resolve().endpoint is None


@pytest.mark.parametrize(("env", "argument", "expected"), [
    ({}, None, False),  # off by default
    ({"AGENTVITALS_STREAM_USAGE": "true"}, None, True),
    ({"AGENTVITALS_STREAM_USAGE": "1"}, None, True),
    ({"AGENTVITALS_STREAM_USAGE": "true"}, False, False),  # the argument wins
    ({}, True, True),
])
def test_stream_usage_setting(env: dict[str, str], argument: bool | None, expected: bool) -> None:
    with mock.patch.dict("os.environ", env, clear=True):
        assert resolve(stream_usage=argument).stream_usage is expected


def test_stream_usage_bad_values(caplog: pytest.LogCaptureFixture) -> None:
    with mock.patch.dict("os.environ", {"AGENTVITALS_STREAM_USAGE": "sometimes"}, clear=True):
        assert resolve().stream_usage is False
    assert "AGENTVITALS_STREAM_USAGE" in caplog.text
    with pytest.raises(agentvitals.ConfigError, match="stream_usage must be True or False"):
        resolve(stream_usage="yes")
