"""NVML GPU gauges: hw.* names and units from a fake NVML; nothing (and no error) without NVML."""

from __future__ import annotations

import types
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agentvitals._gpu import start_gpu_metrics
from agentvitals.metrics import (
    GPU_MEMORY_LIMIT,
    GPU_MEMORY_USAGE,
    GPU_MEMORY_UTILIZATION,
    GPU_POWER,
    GPU_TEMPERATURE,
    GPU_UTILIZATION,
)
from agentvitals.semconv import HW_GPU_TASK, HW_ID, HW_NAME, HW_TYPE


class NVMLError(Exception):
    pass


def fake_nvml(*, broken_device: int | None = None) -> Any:
    devices = [
        {"uuid": b"GPU-aaaa", "name": b"NVIDIA H100 80GB HBM3", "util": (87, 41), "mem": (85_899_345_920, 60e9),
         "power_mw": 512_345, "temp": 71},
        {"uuid": "GPU-bbbb", "name": "NVIDIA L4", "util": (3, 1), "mem": (24_000_000_000, 1e9), "power_mw": 31_000,
         "temp": 40},
    ]

    def device(handle: int) -> dict[str, Any]:
        if handle == broken_device:
            raise NVMLError("GPU is lost")
        return devices[handle]

    return types.SimpleNamespace(
        NVML_TEMPERATURE_GPU=0,
        NVMLError=NVMLError,
        nvmlInit=lambda: None,
        nvmlDeviceGetCount=lambda: len(devices),
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetUUID=lambda h: devices[h]["uuid"],
        nvmlDeviceGetName=lambda h: devices[h]["name"],
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=device(h)["util"][0],
                                                                      memory=device(h)["util"][1]),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(total=device(h)["mem"][0],
                                                                used=int(device(h)["mem"][1]), free=0),
        nvmlDeviceGetPowerUsage=lambda h: device(h)["power_mw"],
        nvmlDeviceGetTemperature=lambda h, sensor: device(h)["temp"],
    )


def collect(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    return {m.name: list(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics} if data else {}


def test_gpu_gauges_from_nvml_with_semconv_names_and_units() -> None:
    reader = InMemoryMetricReader()
    assert start_gpu_metrics(MeterProvider(metric_readers=[reader]), fake_nvml())
    points = collect(reader)
    by_gpu = {metric: {p.attributes[HW_ID]: (p.value, dict(p.attributes)) for p in found}
              for metric, found in points.items()}
    assert by_gpu[GPU_UTILIZATION.name]["GPU-aaaa"][0] == pytest.approx(0.87)  # percent -> fraction
    assert by_gpu[GPU_UTILIZATION.name]["GPU-aaaa"][1][HW_GPU_TASK] == "general"
    assert by_gpu[GPU_MEMORY_UTILIZATION.name]["GPU-bbbb"][0] == pytest.approx(0.01)
    assert by_gpu[GPU_MEMORY_LIMIT.name]["GPU-aaaa"][0] == 85_899_345_920  # bytes, as NVML gives them
    assert by_gpu[GPU_MEMORY_USAGE.name]["GPU-aaaa"][0] == 60_000_000_000
    assert by_gpu[GPU_POWER.name]["GPU-aaaa"][0] == pytest.approx(512.345)  # milliwatts -> watts
    assert by_gpu[GPU_POWER.name]["GPU-aaaa"][1][HW_TYPE] == "gpu"
    assert by_gpu[GPU_TEMPERATURE.name]["GPU-bbbb"][0] == 40
    assert by_gpu[GPU_UTILIZATION.name]["GPU-aaaa"][1][HW_NAME] == "NVIDIA H100 80GB HBM3"


def test_a_failing_device_is_skipped_not_raised() -> None:
    reader = InMemoryMetricReader()
    assert start_gpu_metrics(MeterProvider(metric_readers=[reader]), fake_nvml(broken_device=0))
    utilization = collect(reader)[GPU_UTILIZATION.name]
    assert [p.attributes[HW_ID] for p in utilization] == ["GPU-bbbb"]


def test_without_nvml_there_are_no_gpu_metrics_and_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails, as without nvidia-ml-py
    reader = InMemoryMetricReader()
    assert start_gpu_metrics(MeterProvider(metric_readers=[reader])) is False
    assert GPU_UTILIZATION.name not in collect(reader)

    def no_driver() -> None:
        raise NVMLError("NVML Shared Library Not Found")

    broken = fake_nvml()
    broken.nvmlInit = no_driver
    monkeypatch.setitem(sys.modules, "pynvml", broken)
    assert start_gpu_metrics(MeterProvider(metric_readers=[InMemoryMetricReader()])) is False
