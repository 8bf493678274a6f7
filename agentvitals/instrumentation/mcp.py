"""MCP client tool calls: ``execute_tool {name}`` spans (tool type ``extension``: the tool runs in
the MCP server). The MCP SDK's own protocol span (``MCP send tools/call ...``) nests under ours,
as the HTTP span does under an LLM span. ``Client.call_tool`` may call ``ClientSession.call_tool``
several times (input-required rounds): only the outermost makes a span. Inside another tool's span (an agent
framework's MCP tool, or a tool whose body calls an MCP server) the MCP call is that tool call: no second span,
no second count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentvitals._records import non_empty_str
from agentvitals.instrumentation._base import Patch, PatchTableInstrumentor
from agentvitals.instrumentation._operations import ToolEndpoint, async_operation_wrapper

__all__ = ["MCPInstrumentor"]


def _name(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    return non_empty_str(kwargs.get("name", args[0] if args else None))


def _arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    return kwargs.get("arguments", args[1] if len(args) > 1 else None)


CALL_TOOL = ToolEndpoint(_name, tool_type="extension", arguments=_arguments,
                         attributes={"mcp.method.name": "tools/call"}, only_outermost="mcp.tools/call",
                         part_of_outer_tool=True)


class MCPInstrumentor(PatchTableInstrumentor):
    name = "mcp"
    instruments = ("mcp >= 1.0",)
    patches = (
        Patch("mcp.client.client", "Client.call_tool", async_operation_wrapper(CALL_TOOL)),
        Patch("mcp.client.session", "ClientSession.call_tool", async_operation_wrapper(CALL_TOOL)),
    )
