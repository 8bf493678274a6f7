"""GPU gauges from NVML (package ``nvidia-ml-py``, module ``pynvml``), named by the hardware semconv.

On when NVML loads; silently absent otherwise (no driver, no GPU, no package: a laptop or CI).
Conversions: NVML reports utilisation in percent (-> fraction), memory in bytes (as is), power in
milliwatts (-> W) and temperature in degrees Celsius (as is). Each observation reads NVML once per
collection; a device that errors is skipped for that collection, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from opentelemetry import metrics

from agentvitals.metrics import (
    GPU_MEMORY_LIMIT,
    GPU_MEMORY_USAGE,
    GPU_MEMORY_UTILIZATION,
    GPU_POWER,
    GPU_TEMPERATURE,
    GPU_UTILIZATION,
    Metric,
    create_instrument,
)
from agentvitals.semconv import HW_GPU_TASK, HW_ID, HW_NAME, HW_TYPE, HW_VENDOR, SCHEMA_URL

_logger = logging.getLogger("agentvitals")

__all__ = ["start_gpu_metrics"]


def _load_nvml() -> ModuleType | None:
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        return pynvml  # type: ignore[no-any-return]
    except Exception:  # ImportError, or NVMLError_LibraryNotFound / DriverNotLoaded: no GPU here
        _logger.debug("agentvitals: NVML not available; no GPU metrics", exc_info=True)
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _Devices:
    def __init__(self, nvml: ModuleType) -> None:
        self.nvml = nvml
        self.devices: list[tuple[Any, dict[str, str]]] = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            self.devices.append((handle, {
                HW_ID: _text(nvml.nvmlDeviceGetUUID(handle)),
                HW_NAME: _text(nvml.nvmlDeviceGetName(handle)),
                HW_VENDOR: "nvidia",
            }))

    def observe(self, read: Callable[[Any], Iterable[tuple[float, dict[str, str]]]]
                ) -> Callable[[metrics.CallbackOptions], Iterable[metrics.Observation]]:
        def callback(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
            for handle, identity in self.devices:
                try:
                    values = list(read(handle))
                except Exception:  # one failing device or query must not stop the others
                    _logger.debug("agentvitals: NVML query failed", exc_info=True)
                    continue
                for value, extra in values:
                    yield metrics.Observation(value, {**identity, **extra})

        return callback


def start_gpu_metrics(meter_provider: metrics.MeterProvider | None, nvml: ModuleType | None = None) -> bool:
    """Register the GPU gauges if NVML loads. Returns whether it did."""
    nvml = nvml or _load_nvml()
    if nvml is None:
        return False
    try:
        devices = _Devices(nvml)
    except Exception:
        _logger.debug("agentvitals: cannot list GPUs through NVML", exc_info=True)
        return False
    if not devices.devices:
        return False
    meter = metrics.get_meter("agentvitals.gpu", meter_provider=meter_provider, schema_url=SCHEMA_URL)
    gpu = {HW_TYPE: "gpu"}
    readers: dict[Metric, Callable[[Any], Iterable[tuple[float, dict[str, str]]]]] = {
        GPU_UTILIZATION: lambda h: [(nvml.nvmlDeviceGetUtilizationRates(h).gpu / 100,
                                           {HW_GPU_TASK: "general"})],
        GPU_MEMORY_UTILIZATION: lambda h: [(nvml.nvmlDeviceGetUtilizationRates(h).memory / 100, {})],
        GPU_MEMORY_USAGE: lambda h: [(nvml.nvmlDeviceGetMemoryInfo(h).used, {})],
        GPU_MEMORY_LIMIT: lambda h: [(nvml.nvmlDeviceGetMemoryInfo(h).total, {})],
        GPU_POWER: lambda h: [(nvml.nvmlDeviceGetPowerUsage(h) / 1000, gpu)],
        GPU_TEMPERATURE: lambda h: [(nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU), gpu)],
    }
    for metric, read in readers.items():
        create_instrument(meter, metric, [devices.observe(read)])
    _logger.info("agentvitals: GPU metrics from NVML for %d device(s)", len(devices.devices))
    return True
