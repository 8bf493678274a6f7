"""An instrumented program for the stack tests: exercises every metric in the name registry.

    python instrumented_app.py OTLP_HTTP_ENDPOINT FAKE_LLM_URL
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time

import httpx

import agentvitals


async def main(llm_url: str) -> None:
    import openai

    client = openai.AsyncOpenAI(base_url=llm_url + "/v1", api_key="sk-stack-test", max_retries=0)

    async def search(name: str) -> None:
        with agentvitals.tool(name):
            await asyncio.sleep(0.05)

    for _ in range(3):
        async with agentvitals.task("support"):
            with agentvitals.retrieval("kb", top_k=3) as found:
                await client.embeddings.create(model="text-embedding-3-small", input="where is my order")
                found.set_results(3)
            await asyncio.gather(search("orders"), search("shipping"))
            for name in ("payment", "loyalty"):  # independent, yet one after the other: a parallelizable finding
                with agentvitals.tool(name, arguments={"order": 7}):
                    await asyncio.sleep(0.11)
            agentvitals.cognitive_error("tool_not_found")  # the model asked for a tool the agent does not have
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True,
                stream_options={"include_usage": True},
            )
            async for _ in stream:
                pass
            await client.chat.completions.create(model="house-model", messages=[{"role": "user", "content": "x"}])
            # A client we do not instrument, straight over HTTP: an LLM wait all the same, and a coverage gap.
            async with httpx.AsyncClient() as http:
                await http.post(llm_url + "/v1/chat/completions",
                                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "raw"}]})
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                                                 extra_headers={"x-fake": "huge_usage"})  # a rejected token count
            database = sqlite3.connect(":memory:")
            cursor = database.cursor()  # contrib DB-API tracing covers cursors, not Connection.execute
            cursor.execute("CREATE TABLE answers (id INTEGER, text TEXT)")
            cursor.execute("INSERT INTO answers VALUES (?, ?)", (1, "secret-parameter-value"))
            database.close()
            answers: agentvitals.LLMCache[str] = agentvitals.LLMCache("semantic")
            assert answers.get("q") is None  # a miss
            answers.put("q", "a", cost_usd=0.001)
            assert answers.get("q") == "a"  # a hit, saving the recorded cost
            time.sleep(0.02)  # own compute: active time

    async with agentvitals.task("support", budget=agentvitals.Budget(max_llm_calls=1)):
        for _ in range(3):
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])


if __name__ == "__main__":
    endpoint, llm_url = sys.argv[1], sys.argv[2]
    agentvitals.init("stack-test-app", endpoint=endpoint, metric_export_interval=0.5)
    asyncio.run(main(llm_url))
    agentvitals.shutdown()
