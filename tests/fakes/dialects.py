"""How each provider's guide (/work/shared/providers) shapes chunks, answers and errors.

The fake OpenAI server speaks one of these; each is written from the guide's own examples:

- openai: the reference shape (role-only first delta, `logprobs`, `system_fingerprint`).
- bizcity: OpenAI's shape at `POST /wp-json/bizcity/v1/llm/chat`, vendor-prefixed model ids,
  no models, audio or images endpoints.
- acedata: `role` repeated in every delta, a role-only delta after the content, the finish
  chunk keeps the role, `recipient: "all"` in every chunk, whole answers labelled
  `chat.completion.chunk`, errors as `{"success": false, "error": {"code", "message"},
  "trace_id"}` with codes invalid_token, too_many_requests, api_error, token_mismatched and
  api_not_implemented.
- lemondata: bare chunks (`id, object, created, model, choices`), no role delta, an empty
  last delta carrying `finish_reason`.
- aiid: OpenAI's shape with `reasoning_content` in deltas and in whole messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

OPENAI_CHAT_PATH = "/v1/chat/completions"
BIZCITY_CHAT_PATH = "/wp-json/bizcity/v1/llm/chat"

_ACEDATA_CODES = {401: "invalid_token", 429: "too_many_requests"}


@dataclass(frozen=True)
class Dialect:
    """One provider's way of writing the same answer."""

    name: str
    chat_path: str = OPENAI_CHAT_PATH
    other_endpoints: bool = True  # /models, /audio/*, /images/*
    role_first: bool = True  # a role-only delta opens the stream
    role_every_delta: bool = False
    role_after_content: bool = False
    openai_fields: bool = True  # logprobs, system_fingerprint, service_tier
    extra: JSON = field(default_factory=dict)
    whole_object: str = "chat.completion"
    usage_chunk: bool = True
    reasoning_field: str | None = None  # forces the field reasoning deltas use
    error_style: str = "openai"
    null_finish: bool = True  # `finish_reason: null` written in every chunk
    vision: bool = True
    tools: bool = True

    def chunk(self, base: JSON, delta: JSON | None, finish: str | None) -> JSON:
        """A chunk in this dialect (delta None = the usage chunk with no choices)."""
        chunk: JSON = {
            "id": base["id"],
            "object": "chat.completion.chunk",
            "created": base["created"],
            "model": base["model"],
        }
        if self.openai_fields:
            chunk["service_tier"] = "default"
            chunk["system_fingerprint"] = "fp_fake"
        if delta is None:
            chunk["choices"] = []
        else:
            if self.role_every_delta:
                delta = {**delta, "role": "assistant"}
            choice: JSON = {"index": 0, "delta": delta}
            if self.openai_fields:
                choice["logprobs"] = None
            if finish is not None or self.null_finish:
                choice["finish_reason"] = finish
            chunk["choices"] = [choice]
        chunk.update(self.extra)
        return chunk

    def first_delta(self) -> JSON | None:
        """The delta opening a stream, if the dialect sends one."""
        if not self.role_first:
            return None
        if self.openai_fields:
            return {"role": "assistant", "content": "", "refusal": None}
        return {"role": "assistant"}

    def error_body(self, status: int, message: str, kind: str, code: str | None) -> JSON:
        """The body of an HTTP error (or of an error inside a 200 stream)."""
        if self.error_style == "acedata":
            if status >= 500:
                ace = "api_error"
            elif status == 400:
                ace = code if code in ("token_mismatched", "api_not_implemented") else "api_error"
            else:
                ace = _ACEDATA_CODES.get(status, code or "api_error")
            return {
                "success": False,
                "error": {"code": ace, "message": message},
                "trace_id": str(uuid.uuid4()),
            }
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}


DIALECTS: dict[str, Dialect] = {
    "openai": Dialect("openai"),
    "bizcity": Dialect("bizcity", chat_path=BIZCITY_CHAT_PATH, other_endpoints=False),
    "acedata": Dialect(
        "acedata",
        role_every_delta=True,
        role_after_content=True,
        openai_fields=False,
        extra={"recipient": "all"},
        whole_object="chat.completion.chunk",
        usage_chunk=False,
        error_style="acedata",
        null_finish=False,
        tools=False,
    ),
    "lemondata": Dialect(
        "lemondata", role_first=False, openai_fields=False, usage_chunk=False, vision=False
    ),
    "aiid": Dialect("aiid", reasoning_field="reasoning_content", vision=False),
}
