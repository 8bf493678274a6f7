"""The demo's customer-support agent.

One task per question: embed it and check the semantic cache; read the order from the database;
plan with the small model; for account questions (refunds, cancellations, address changes) check the
payment and the loyalty tier; call the planned tools over HTTP in parallel; retrieve policy context;
stream the answer from the model the router picks; write the conversation back. It uses only
``agentvitals.init()`` (done by the runner) and the public ``task``/``tool``/``retrieval`` API (plus
``cognitive_error`` for what only it can see): LLM, HTTP and DB spans come from the auto-instrumentation.

Failures are the realistic kinds. System: a tool returns 5xx twice, a tool hangs past its timeout.
Cognitive: the planner replies with something that is not JSON, or asks for a tool the agent does not
have; the agent polls a tool that keeps giving the same answer until its budget cuts it off.

It also has a habit worth finding: the two account checks are independent, yet made one after the
other (``agentvitals explain`` reports the time running them concurrently would save).
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from typing import Any

import httpx
import openai

import agentvitals

from .knowledge import VectorIndex
from .store import ORDERS, Store
from .tool_server import TOOLS

__all__ = ["MalformedModelReply", "Question", "SupportAgent", "ToolFailed", "make_question"]

EMBEDDING_MODEL = "demo-embed"
PLANNER_PROMPT = (
    "You are the planner of a customer-support agent. Reply with JSON only: "
    '{"tools": [names of tools to call], "needs_context": true|false}. '
    f"Tools: {', '.join(TOOLS)}."
)
# Long and shared by every answer call, so the model server's prefix cache (and the provider's
# cached-token accounting) has something to reuse, as a real system prompt does.
ANSWER_PROMPT = (
    "You are a friendly, precise customer-support assistant for an online shop. Answer in two or three "
    "sentences, using only the facts given below: the order record, the tool results and the policy "
    "excerpts. If a fact is missing, say what you will check and when the customer will hear back. Never "
    "invent tracking numbers, dates or amounts. Always mention the order number. "
) * 6

VERIFIER_PROMPT = "Check this support answer against the refund policy. Reply OK or list the problems."

_TEMPLATES = (
    "Where is my order {id}?",
    "When will order {id} arrive?",
    "Can I get a refund for order {id}?",
    "Is the item in order {id} back in stock?",
    "Please cancel order {id} if it has not shipped.",
    "How do I return the items from order {id}?",
    "Can I change the delivery address of order {id}?",
)
_HOT_ORDERS = 25
_ACCOUNT_QUESTIONS = ("refund", "cancel", "address")
_ARRIVAL_QUESTION = "arrive"


@dataclass(frozen=True)
class Question:
    order_id: int
    text: str


def make_question(rng: random.Random) -> Question:
    """Questions skew toward a few hot orders, so identical questions recur (semantic cache hits)."""
    order_id = rng.randrange(_HOT_ORDERS) if rng.random() < 0.35 else rng.randrange(ORDERS)
    return Question(order_id, rng.choice(_TEMPLATES).format(id=order_id))


class MalformedModelReply(Exception):
    """The planner's reply was not the JSON plan it was asked for."""


class ToolFailed(Exception):
    def __init__(self, name: str, status: int) -> None:
        super().__init__(f"tool {name} failed with HTTP {status}")
        self.name = name
        self.status = status
        self.status_code = status  # read by telemetry: a 5xx is a system error (server_error)


def parse_plan(content: str | None) -> tuple[list[str], bool]:
    try:
        plan = json.loads(content or "")
        tools = [str(t) for t in plan["tools"]]
        return tools, bool(plan.get("needs_context"))
    except (ValueError, KeyError, TypeError) as exc:
        # Raised from the decoding error: telemetry classifies the task's failure as a cognitive output_parse.
        raise MalformedModelReply(f"planner reply is not a JSON plan: {content!r:.60}") from exc


class SupportAgent:
    def __init__(self, *, llm: openai.AsyncOpenAI, http: httpx.AsyncClient, tools_url: str, store: Store,
                 index: VectorIndex, cache: agentvitals.LLMCache[str], router: agentvitals.ModelRouter,
                 budget: agentvitals.Budget, tool_timeout_s: float = 2.0) -> None:
        self.llm = llm
        self.http = http
        self.tools_url = tools_url
        self.store = store
        self.index = index
        self.cache = cache
        self.router = router
        self.budget = budget
        self.tool_timeout_s = tool_timeout_s

    async def embed(self, text: str) -> list[float]:
        response = await self.llm.embeddings.create(model=EMBEDDING_MODEL, input=text)
        return list(response.data[0].embedding)

    async def handle(self, question: Question) -> str | None:
        """Answer one question as one task. Returns the answer, or the partial result on budget exhaustion."""
        async with agentvitals.task("support", budget=self.budget) as task:
            return await self._answer(question, task)
        return task.partial_result

    async def _answer(self, question: Question, task: agentvitals.task) -> str:
        vector = await self.embed(question.text)
        cached = self.cache.get(question.text, vector=vector)
        if cached is not None:
            return cached

        order = await self.store.order(question.order_id)
        plan = self.router.choose("plan")
        reply = await self.llm.chat.completions.create(
            **plan.kwargs(),
            messages=[{"role": "system", "content": PLANNER_PROMPT}, {"role": "user", "content": question.text}],
        )
        tools, needs_context = parse_plan(reply.choices[0].message.content)
        task.set_partial_result(f"We are looking into order {question.order_id}.")
        for name in [t for t in tools if t not in TOOLS]:
            # The model asked for a tool that does not exist: skip it, and say so.
            agentvitals.cognitive_error("tool_not_found", name)
            tools.remove(name)

        account = await self._account_checks(question) if any(
            word in question.text.lower() for word in _ACCOUNT_QUESTIONS) else {}
        results = await asyncio.gather(*(self._call_tool(name, question) for name in tools))
        if _ARRIVAL_QUESTION in question.text.lower() and order is not None and order["status"] == "processing":
            results.append(await self._poll_eta(question))
        context: list[str] = []
        if needs_context:
            with agentvitals.retrieval("policy-kb", top_k=3) as found:
                query = await self.embed(f"{question.text} {order['status'] if order else ''}")
                context = self.index.search(query, 3)
                found.set_results(len(context))

        choice = self.router.choose("answer", priority="standard")
        stream = await self.llm.chat.completions.create(
            **choice.kwargs(), stream=True, stream_options={"include_usage": True},
            messages=[
                {"role": "system", "content": ANSWER_PROMPT},
                {"role": "user", "content": json.dumps({"order": order, "tools": results, "account": account,
                                                        "policy": context, "question": question.text})},
            ],
        )
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        answer = "".join(parts)
        task.set_partial_result(answer)
        if ("refund_policy" in tools and needs_context and order is not None and order["status"] == "returned"
                and order["total"] > 200):
            # Large refunds on returned orders get a second look: the longest path, and the one that can
            # run out of LLM-call budget (the task then ends as budget_exhausted with the answer so far).
            check = self.router.choose("verify", priority="background")
            await self.llm.chat.completions.create(
                **check.kwargs(),
                messages=[{"role": "system", "content": VERIFIER_PROMPT}, {"role": "user", "content": answer}],
            )
        await self.store.save_conversation(question.order_id, question.text, answer, choice.model)
        run = task.run
        self.cache.put(question.text, answer, vector=vector, cost_usd=run.cost_usd if run is not None else None)
        return answer

    async def _account_checks(self, question: Question) -> dict[str, Any]:
        """The payment and the loyalty tier: independent lookups, made one after the other (a habit worth fixing:
        ``agentvitals explain`` reports what running them concurrently would save)."""
        payment = await self._call_tool("payment_status", question)
        loyalty = await self._call_tool("loyalty_tier", question)
        return {"payment": payment, "loyalty": loyalty}

    async def _poll_eta(self, question: Question) -> Any:
        """Ask for the delivery estimate until there is one. An order still processing has none, and the tool says
        the same each time: the loop ends when the task's tool budget does (a cognitive error: a loop)."""
        while True:
            result = await self._call_tool("shipping_eta", question)
            if isinstance(result, dict) and result.get("eta"):
                return result

    async def _call_tool(self, name: str, question: Question) -> Any:
        for attempt in (1, 2):  # one retry on a 5xx, as a careful client would
            try:
                with agentvitals.tool(name, arguments={"order_id": question.order_id}):
                    try:
                        response = await self.http.post(f"{self.tools_url}/tools/{name}",
                                                        json={"order_id": question.order_id},
                                                        timeout=self.tool_timeout_s)
                    except httpx.TimeoutException as exc:
                        raise TimeoutError(f"tool {name} timed out after {self.tool_timeout_s}s") from exc
                    if response.status_code >= 500:
                        raise ToolFailed(name, response.status_code)
                    return response.json()
            except ToolFailed:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
