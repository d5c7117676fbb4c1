"""The tool registry: JSON schemas derived from typed async functions, and running calls."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from bot.tool_calls import ToolCall

log = logging.getLogger(__name__)

MAX_RESULT_CHARS = 8000

ToolFunction = Callable[..., Awaitable[Any]]
StatusFormatter = Callable[[dict[str, Any], str], str]


class ToolFailure(Exception):
    """A tool could not do its job; the message goes back to the model."""


def _json_type(annotation: Any) -> dict[str, Any]:
    origin = get_origin(annotation)
    if origin is Literal:
        values = list(get_args(annotation))
        schema = _json_type(type(values[0]))
        schema["enum"] = values
        return schema
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _json_type(options[0])
        return {"anyOf": [_json_type(a) for a in options]}
    if origin in (list, tuple, set, frozenset):
        args = get_args(annotation)
        return {"type": "array", "items": _json_type(args[0]) if args else {}}
    if annotation is str:
        return {"type": "string"}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer"}
    if annotation is float:
        return {"type": "number"}
    if origin is dict or annotation is dict:
        return {"type": "object"}
    raise TypeError(f"unsupported parameter type for a tool: {annotation!r}")


def _doc_sections(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its description and per-argument texts."""
    description: list[str] = []
    params: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for raw in doc.splitlines():
        line = raw.strip()
        if line.lower() in ("args:", "arguments:", "parameters:"):
            in_args = True
            continue
        if in_args:
            if re.match(r"^(returns?|raises?|examples?):$", line.lower()):
                in_args = False
                current = None
                continue
            match = re.match(r"^(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
            if match:
                current = match.group(1)
                params[current] = match.group(2)
            elif current and line:
                params[current] += " " + line
            continue
        description.append(line)
    text = " ".join(part for part in description if part).strip()
    return text, params


@dataclass(frozen=True)
class Tool:
    """One tool: what the model sees (name, description, schema) and what runs."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: ToolFunction
    status: StatusFormatter | None = None

    def schema(self) -> dict[str, Any]:
        """The tool in the Chat Completions `tools` shape."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def tool_from_function(function: ToolFunction, status: StatusFormatter | None = None) -> Tool:
    """Derive a Tool from a typed async function whose first parameter is its context.

    The name is the function's name, the description its docstring's text,
    and each further parameter becomes a property of the JSON schema (its
    description taken from the docstring's `Args:` section).
    """
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"tool {function.__name__} must be an async function")
    hints = typing.get_type_hints(function)
    description, arg_docs = _doc_sections(inspect.getdoc(function) or "")
    if not description:
        raise ValueError(f"tool {function.__name__} needs a docstring")
    properties: dict[str, Any] = {}
    required: list[str] = []
    parameters = list(inspect.signature(function).parameters.values())[1:]
    for parameter in parameters:
        schema = _json_type(hints[parameter.name])
        if parameter.name in arg_docs:
            schema["description"] = arg_docs[parameter.name]
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
        elif parameter.default is not None:
            schema["default"] = parameter.default
        properties[parameter.name] = schema
    return Tool(
        name=function.__name__,
        description=description,
        parameters={
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
        function=function,
        status=status,
    )


def _coerce(arguments: dict[str, Any], tool: Tool) -> dict[str, Any]:
    """Check the model's arguments against the schema, converting obvious near-misses."""
    properties: dict[str, Any] = tool.parameters["properties"]
    unknown = set(arguments) - set(properties)
    if unknown:
        raise ToolFailure(f"unknown argument(s): {', '.join(sorted(unknown))}")
    missing = [name for name in tool.parameters["required"] if name not in arguments]
    if missing:
        raise ToolFailure(f"missing argument(s): {', '.join(missing)}")
    result: dict[str, Any] = {}
    for name, value in arguments.items():
        kind = properties[name].get("type")
        try:
            if kind == "integer" and not isinstance(value, bool):
                value = int(value)
            elif kind == "number" and not isinstance(value, bool):
                value = float(value)
            elif kind == "string" and not isinstance(value, str):
                value = str(value)
            elif kind == "boolean" and isinstance(value, str):
                value = value.lower() in ("true", "1", "yes")
        except (TypeError, ValueError) as exc:
            raise ToolFailure(f"argument {name} must be of type {kind}") from exc
        enum = properties[name].get("enum")
        if enum and value not in enum:
            raise ToolFailure(f"argument {name} must be one of {enum}")
        result[name] = value
    return result


@dataclass
class ToolBudget:
    """How many tool calls one turn may make: at most `per_round` at once, `per_turn` in all."""

    per_round: int = 5
    per_turn: int = 12
    used: int = 0
    refused: int = 0

    def admit(self, calls: int) -> int:
        """How many of `calls` new calls may run now (the first ones); counts them."""
        allowed = max(0, min(calls, self.per_round, self.per_turn - self.used))
        self.used += allowed
        self.refused += calls - allowed
        return allowed

    def refusal(self) -> str:
        """The result a call past the limits gets, for the model."""
        return json.dumps(
            {
                "error": (
                    f"not run: at most {self.per_round} tool calls per round and "
                    f"{self.per_turn} per turn; answer with what you have, or ask fewer"
                )
            }
        )


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…(truncated)"


class ToolRegistry:
    """The tools one bot offers, bound to their shared context (HTTP client, settings)."""

    def __init__(
        self,
        tools: list[Tool],
        context: Any,
        timeout: float,
        *,
        max_result_chars: int = MAX_RESULT_CHARS,
        per_round: int = 5,
        per_turn: int = 12,
    ) -> None:
        self._tools = {t.name: t for t in tools}
        self._context = context
        self._timeout = timeout
        self._max_result_chars = max_result_chars
        self._per_round = per_round
        self._per_turn = per_turn

    def budget(self) -> ToolBudget:
        """A fresh counter for one turn."""
        return ToolBudget(per_round=self._per_round, per_turn=self._per_turn)

    def __bool__(self) -> bool:
        return bool(self._tools)

    @property
    def names(self) -> list[str]:
        """The registered tools' names."""
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """Every tool in the Chat Completions `tools` shape."""
        return [t.schema() for t in self._tools.values()]

    def status_label(self, call: ToolCall, lang: str) -> str | None:
        """What the live reply says while this call runs."""
        tool = self._tools.get(call.name)
        if tool is None or tool.status is None:
            return None
        try:
            arguments = call.parsed_arguments()
        except ValueError:
            arguments = {}
        return tool.status(arguments, lang)

    async def run(self, call: ToolCall) -> str:
        """Run one call with its timeout; failures come back as an error result, never raise."""
        tool = self._tools.get(call.name)
        if tool is None:
            return json.dumps({"error": f"unknown tool '{call.name}'"})
        try:
            arguments = _coerce(call.parsed_arguments(), tool)
            async with asyncio.timeout(self._timeout):
                result = await tool.function(self._context, **arguments)
        except ToolFailure as exc:
            return json.dumps({"error": str(exc)}, ensure_ascii=False)
        except ValueError as exc:
            return json.dumps({"error": f"bad arguments: {exc}"}, ensure_ascii=False)
        except TimeoutError:
            return json.dumps({"error": f"the tool timed out after {self._timeout:g} s"})
        except Exception as exc:
            log.warning("tool %s failed: %r", call.name, exc)
            return json.dumps({"error": f"the tool failed: {type(exc).__name__}"})
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        return _capped(text, self._max_result_chars)

    async def run_all(self, calls: list[ToolCall], budget: ToolBudget | None = None) -> list[str]:
        """Run the calls the budget admits concurrently; every call gets a result, in order."""
        budget = budget or self.budget()
        allowed = budget.admit(len(calls))
        if allowed < len(calls):
            log.warning("tool calls over the limit: %d run, %d not", allowed, len(calls) - allowed)
        results = list(await asyncio.gather(*(self.run(call) for call in calls[:allowed])))
        results += [budget.refusal()] * (len(calls) - allowed)
        return [_capped(result, self._max_result_chars) for result in results]
