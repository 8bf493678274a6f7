"""A fake, OpenAI-compatible model server whose latency behaves like a real one under load.

Endpoints: ``POST /v1/chat/completions`` (plain, and streamed with a final usage chunk when the
client asks for ``stream_options.include_usage``), ``POST /v1/embeddings``, ``GET /metrics``.

Each model has a batch of ``max_batch`` slots. A request first waits in a queue for a slot, then
takes time to first token = base + prefill of its *uncached* prompt tokens, then decodes at a rate
that falls as the batch fills. So a burst of requests really queues and really slows down. Prompt
prefixes seen before count as cached tokens (reported in ``usage.prompt_tokens_details``), as a
prefix cache would. GPU utilisation, GPU memory and KV-cache usage are simulated from the load and
exported the way a self-hosted stack exposes them: vLLM's ``vllm:*`` metrics and dcgm-exporter's
``DCGM_FI_DEV_*`` gauges.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from agentvitals.monitoring.series import (
    GPU_MEMORY_FREE_MIB,
    GPU_MEMORY_USED_MIB,
    GPU_UTIL_PERCENT,
    MODEL_NAME_LABEL,
    MODEL_SERVER_E2E,
    MODEL_SERVER_GENERATION_TOKENS,
    MODEL_SERVER_KV_CACHE_USAGE,
    MODEL_SERVER_PREFIX_CACHE_HITS,
    MODEL_SERVER_PREFIX_CACHE_QUERIES,
    MODEL_SERVER_PROMPT_TOKENS,
    MODEL_SERVER_QUEUE_TIME,
    MODEL_SERVER_RUNNING,
    MODEL_SERVER_TTFT,
    MODEL_SERVER_WAITING,
)

from ._http import AppServer
from .tool_server import TOOLS

__all__ = ["CANARY", "HALLUCINATED_TOOL", "LARGE", "SMALL", "ModelProfile", "ModelServer"]

PREFIX_BLOCK = 128  # cached prompt tokens come in blocks, as with OpenAI's prompt caching
HALLUCINATED_TOOL = "track_parcel"
"""A tool the planner sometimes asks for that the agent does not have."""


@dataclass(frozen=True)
class ModelProfile:
    name: str
    ttft_s: float
    """Time to first token with an empty batch and a fully cached prompt."""
    prefill_tokens_per_s: float
    decode_tokens_per_s: float
    """Per request, with the batch otherwise empty."""
    max_batch: int
    slowdown_per_request: float
    """Decode slows by this fraction for every other request in the batch."""
    kv_capacity_tokens: int
    gpu: str
    gpu_memory_mib: int
    weights_mib: int
    max_waiting: int
    """Beyond this many queued requests the server answers 503, as an overloaded server does."""


# Tuned so a steady load keeps task p95 under the 2 s alert threshold, while a 4x spike fills the
# large model's batch (queueing) and pushes it over; the small model has room for the same load.
LARGE = ModelProfile("demo-large", 0.12, 8000, 320, 3, 0.15, 6_000, "0", 81_559, 42_000, 8)
SMALL = ModelProfile("demo-small", 0.04, 30000, 400, 32, 0.02, 48_000, "1", 81_559, 9_000, 128)
CANARY = "demo-large-canary"
"""A new build of the large model, served by the same GPU, that no price table knows yet."""

PRICES_USD_PER_MILLION = {
    LARGE.name: {"input": 2.50, "output": 10.00, "cache_read": 1.25},
    SMALL.name: {"input": 0.15, "output": 0.60, "cache_read": 0.075},
}
"""What the demo passes to ``agentvitals.init(pricing=...)``: self-hosted models get user prices."""


def count_tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class _ModelState:
    profile: ModelProfile
    slots: asyncio.Semaphore
    waiting: int = 0
    running: int = 0
    kv_tokens: int = 0
    prefixes: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def utilisation(self) -> float:
        return min(1.0, self.running / self.profile.max_batch)


class _Metrics:
    """vLLM- and DCGM-named metrics in a registry of the server's own (so tests can run several)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        model = [MODEL_NAME_LABEL]
        gpu = ["gpu", "UUID", "modelName", "Hostname"]
        registry = self.registry

        def counter(name: str, text: str) -> Counter:
            return Counter(name.removesuffix("_total"), text, model, registry=registry)

        self.running = Gauge(MODEL_SERVER_RUNNING, "Requests in the running batch.", model, registry=registry)
        self.waiting = Gauge(MODEL_SERVER_WAITING, "Requests waiting for a batch slot.", model,
                             registry=registry)
        self.kv_usage = Gauge(MODEL_SERVER_KV_CACHE_USAGE, "Fraction of KV-cache blocks in use (0-1).", model,
                              registry=registry)
        self.prefix_queries = counter(MODEL_SERVER_PREFIX_CACHE_QUERIES, "Prompt tokens looked up in the "
                                                                            "prefix cache.")
        self.prefix_hits = counter(MODEL_SERVER_PREFIX_CACHE_HITS, "Prompt tokens found in the prefix cache.")
        self.prompt_tokens = counter(MODEL_SERVER_PROMPT_TOKENS, "Prefill tokens processed.")
        self.generation_tokens = counter(MODEL_SERVER_GENERATION_TOKENS, "Tokens generated.")
        buckets = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0)
        self.ttft = Histogram(MODEL_SERVER_TTFT, "Time to first token.", model, buckets=buckets,
                              registry=registry)
        self.e2e = Histogram(MODEL_SERVER_E2E, "End-to-end request latency.", model, buckets=buckets,
                             registry=registry)
        self.queue_time = Histogram(MODEL_SERVER_QUEUE_TIME, "Time spent waiting for a batch slot.", model,
                                    buckets=buckets, registry=registry)
        self.gpu_util = Gauge(GPU_UTIL_PERCENT, "GPU utilization (in %).", gpu, registry=registry)
        self.fb_used = Gauge(GPU_MEMORY_USED_MIB, "Framebuffer memory used (in MiB).", gpu, registry=registry)
        self.fb_free = Gauge(GPU_MEMORY_FREE_MIB, "Framebuffer memory free (in MiB).", gpu, registry=registry)


class ModelServer(AppServer):
    """The fake server. ``await start(host, port)`` returns its URL; ``await stop()``."""

    def __init__(self, profiles: tuple[ModelProfile, ...] = (LARGE, SMALL), *, seed: int = 7,
                 malformed_rate: float = 0.02, hallucination_rate: float = 0.04,
                 prefix_cache_entries: int = 2048) -> None:
        self._states = {p.name: _ModelState(p, asyncio.Semaphore(p.max_batch)) for p in profiles}
        self._aliases = {CANARY: LARGE.name} if LARGE.name in self._states else {}
        self._rng = random.Random(seed)
        self.malformed_rate = malformed_rate
        self.hallucination_rate = hallucination_rate
        self._prefix_cache_entries = prefix_cache_entries
        self.metrics = _Metrics()
        self._sampler: asyncio.Task[None] | None = None
        self.requests = 0
        for state in self._states.values():  # series exist from the start, at zero
            self._publish(state)

    # --- lifecycle ---------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self.health)
        return app

    async def started(self) -> None:
        self._sampler = asyncio.create_task(self._sample_gpu())

    async def stopping(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()

    # --- simulation ------------------------------------------------------------------------------
    def _state(self, model: str) -> _ModelState:
        state = self._states.get(self._aliases.get(model, model))
        if state is None:
            raise web.HTTPNotFound(text=json.dumps({"error": {"message": f"model {model!r} not found",
                                                              "type": "invalid_request_error"}}),
                                   content_type="application/json")
        return state

    def _cached_tokens(self, state: _ModelState, prefix: str, prompt_tokens: int) -> int:
        """Tokens of the longest previously seen prefix (whole blocks), then remember this one."""
        key = hashlib.blake2b(prefix.encode(), digest_size=12).hexdigest()
        cached = state.prefixes.get(key, 0)
        state.prefixes[key] = prompt_tokens
        state.prefixes.move_to_end(key)
        while len(state.prefixes) > self._prefix_cache_entries:
            state.prefixes.popitem(last=False)
        cached = min(cached, prompt_tokens - 1)
        return max(0, cached // PREFIX_BLOCK * PREFIX_BLOCK)

    def _publish(self, state: _ModelState) -> None:
        name = state.profile.name
        self.metrics.running.labels(name).set(state.running)
        self.metrics.waiting.labels(name).set(state.waiting)
        self.metrics.kv_usage.labels(name).set(min(1.0, state.kv_tokens / state.profile.kv_capacity_tokens))

    async def _sample_gpu(self) -> None:
        # GPU gauges move smoothly toward the load, like dcgm-exporter's 1 s samples.
        smoothed = {name: 0.0 for name in self._states}
        while True:
            for name, state in self._states.items():
                profile = state.profile
                target = 100.0 * min(1.0, 0.08 + 0.92 * state.utilisation()) if state.running else 3.0
                smoothed[name] = 0.6 * smoothed[name] + 0.4 * target
                labels = (profile.gpu, f"GPU-demo-{profile.gpu}", "NVIDIA H100 80GB HBM3 (simulated)", "demo")
                kv_mib = int(profile.gpu_memory_mib - profile.weights_mib) * 0.9 * min(
                    1.0, state.kv_tokens / profile.kv_capacity_tokens)
                used = profile.weights_mib + kv_mib
                self.metrics.gpu_util.labels(*labels).set(round(smoothed[name], 1))
                self.metrics.fb_used.labels(*labels).set(int(used))
                self.metrics.fb_free.labels(*labels).set(int(profile.gpu_memory_mib - used))
            await asyncio.sleep(0.5)

    async def _generate(self, state: _ModelState, prompt_tokens: int, cached: int, completion_tokens: int,
                        on_chunk: Any = None, chunks: int = 1) -> tuple[float, float]:
        """Occupy a batch slot for the request's duration. Returns (queue seconds, ttft seconds)."""
        profile = state.profile
        name = profile.name
        arrived = time.perf_counter()
        state.waiting += 1
        self._publish(state)
        try:
            await state.slots.acquire()
        finally:
            state.waiting -= 1
        queued = time.perf_counter() - arrived
        state.running += 1
        held = prompt_tokens + completion_tokens
        state.kv_tokens += held
        self._publish(state)
        try:
            prefill = (prompt_tokens - cached) / profile.prefill_tokens_per_s
            crowd = 1 + profile.slowdown_per_request * (state.running - 1)
            await asyncio.sleep((profile.ttft_s + prefill) * crowd)
            ttft = time.perf_counter() - arrived
            self.metrics.ttft.labels(name).observe(ttft)
            per_chunk = completion_tokens / max(1, chunks)
            for index in range(max(1, chunks)):
                crowd = 1 + profile.slowdown_per_request * (state.running - 1)
                await asyncio.sleep(per_chunk / profile.decode_tokens_per_s * crowd)
                if on_chunk is not None:
                    await on_chunk(index)
        finally:
            state.running -= 1
            state.kv_tokens -= held
            state.slots.release()
            self._publish(state)
        self.metrics.queue_time.labels(name).observe(queued)
        self.metrics.e2e.labels(name).observe(time.perf_counter() - arrived)
        self.metrics.prefix_queries.labels(name).inc(prompt_tokens)
        self.metrics.prefix_hits.labels(name).inc(cached)
        self.metrics.prompt_tokens.labels(name).inc(prompt_tokens)
        self.metrics.generation_tokens.labels(name).inc(completion_tokens)
        return queued, ttft

    # --- reply content ---------------------------------------------------------------------------
    def _reply(self, messages: list[dict[str, Any]], max_tokens: int) -> tuple[str, int]:
        system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
        user = str(messages[-1].get("content", "")) if messages else ""
        digest = int(hashlib.sha256(user.encode()).hexdigest(), 16)
        if "planner" in str(system).lower():
            if self._rng.random() < self.malformed_rate:
                return "Sure! I think we should probably look at the order", 14  # not JSON: a malformed plan
            tools = list(TOOLS)
            chosen = ([t for i, t in enumerate(tools) if digest >> i & 1] or [tools[digest % len(tools)]])[:3]
            if self._rng.random() < self.hallucination_rate:
                chosen.append(HALLUCINATED_TOOL)  # a tool the agent does not have
            plan = json.dumps({"tools": chosen, "needs_context": bool(digest >> 7 & 1)})
            return plan, count_tokens(plan) + 12
        words = min(max_tokens, 60 + digest % 140)
        text = " ".join("Your order is on its way and should arrive soon." for _ in range(words // 10 + 1))
        return text, words

    # --- handlers --------------------------------------------------------------------------------
    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _request_body(self, request: web.Request, *required: str) -> dict[str, Any] | None:
        """The JSON body if it is an object with every ``required`` field; counts the request."""
        self.requests += 1
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) and all(key in body for key in required) else None

    @staticmethod
    def _invalid() -> web.Response:
        return web.json_response({"error": {"message": "invalid request", "type": "invalid_request_error"}},
                                 status=400)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._request_body(request, "messages", "model")
        if body is None:
            return self._invalid()
        messages, model = body["messages"], body["model"]
        state = self._state(model)
        if state.waiting >= state.profile.max_waiting:
            return web.json_response({"error": {"message": "server overloaded, retry later", "type": "overloaded"}},
                                     status=503)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 256)
        text, completion_tokens = self._reply(messages, max_tokens)
        prompt_text = json.dumps(messages)
        prompt_tokens = count_tokens(prompt_text)
        # The prefix is everything but the last message: shared system prompts and context cache.
        cached = self._cached_tokens(state, json.dumps(messages[:-1]), prompt_tokens)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        base = {"id": f"chatcmpl-{self.requests}", "created": int(time.time()), "model": model}
        if not body.get("stream"):
            await self._generate(state, prompt_tokens, cached, completion_tokens)
            return web.json_response({
                **base, "object": "chat.completion", "usage": usage,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            })

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        pieces = [text[i:i + 24] for i in range(0, len(text), 24)] or [""]

        async def send(data: dict[str, Any]) -> None:
            await response.write(f"data: {json.dumps(data)}\n\n".encode())

        async def on_chunk(index: int) -> None:
            await send({**base, "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": {"content": pieces[index]}, "finish_reason": None}]})

        await self._generate(state, prompt_tokens, cached, completion_tokens, on_chunk, chunks=len(pieces))
        await send({**base, "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            await send({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await self._request_body(request, "input", "model")
        if body is None:
            return self._invalid()
        inputs, model = body["input"], body["model"]
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        tokens = sum(count_tokens(str(t)) for t in texts)
        state = self._states.get(SMALL.name) or next(iter(self._states.values()))
        await self._generate(state, tokens, 0, 0)
        return web.json_response({
            "object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": embed(str(t))} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })


EMBEDDING_DIMENSIONS = 64


def embed(text: str) -> list[float]:
    """A deterministic bag-of-words embedding: similar questions get similar vectors."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in text.lower().split():
        word = word.strip(".,?!'\"")
        if not word:
            continue
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vector[digest[0] % EMBEDDING_DIMENSIONS] += 1.0 if digest[1] & 1 else -1.0
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]
