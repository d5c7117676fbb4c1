"""Assembling streamed tool-call fragments into whole calls."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCall:
    """One complete tool call the model asked for."""

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; raises ValueError when they are not a JSON object."""
        text = self.arguments.strip() or "{}"
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("tool arguments must be a JSON object")
        return value

    def to_api(self) -> dict[str, Any]:
        """The call in the Chat Completions message shape."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments or "{}"},
        }


@dataclass
class _Partial:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.arguments)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


class ToolCallAssembler:
    """Collects fragments keyed by `index` and yields complete calls at the end.

    Handles what gateways do differently: fragments without `index`, an index
    reused for a second call (a new `id`), the name repeated in every fragment,
    and the whole arguments object sent again in one piece.
    """

    def __init__(self) -> None:
        self._calls: list[_Partial] = []
        self._by_index: dict[int, _Partial] = {}

    @property
    def pending(self) -> bool:
        """Whether a tool call has begun (its fragments are being written)."""
        return bool(self._calls)

    def add(
        self, index: int | None, call_id: str | None, name: str | None, arguments: str | None
    ) -> None:
        """Add one fragment."""
        current = self._by_index.get(index) if index is not None else None
        if current is None and index is None and self._calls and not call_id:
            current = self._calls[-1]
        if current is not None and call_id and current.id and call_id != current.id:
            current = None
        if current is None:
            current = _Partial()
            self._calls.append(current)
            if index is not None:
                self._by_index[index] = current
        if call_id:
            current.id = call_id
        if name and name != current.name:
            current.name = name if not current.name else current.name
        if arguments:
            so_far = current.text()
            if so_far and _is_json_object(so_far) and _is_json_object(arguments):
                current.arguments = [arguments]
            else:
                current.arguments.append(arguments)

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self) -> list[ToolCall]:
        """The complete calls, in order; calls without a name are dropped."""
        result: list[ToolCall] = []
        for n, partial in enumerate(self._calls):
            if not partial.name:
                continue
            call_id = partial.id or f"call_{n}"
            result.append(ToolCall(id=call_id, name=partial.name, arguments=partial.text() or "{}"))
        return result
