"""A fake OpenAI-compatible API server (aiohttp on 127.0.0.1) with scripted replies.

Chat completions are answered from a script of steps (text deltas, reasoning, tool-call
fragments, errors, dropped connections...), streamed as real SSE. Every chat request body
is validated against ``CreateChatCompletionRequest`` of the official OpenAPI document.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.fakes.dialects import DIALECTS, Dialect
from tests.fakes.server import LocalServer
from tests.spec_files import spec_path

JSON = dict[str, Any]

SPEC_PATH = spec_path("openai-openapi.json", "OPENAI_OPENAPI_SPEC")
AUDIO_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "ogg", "wav", "webm")
MAX_AUDIO_BYTES = 25 * 1024 * 1024
_SPEC_URI = "urn:openai-openapi"
_PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


# ------------------------------------------------------------------------ schema


def _fix_nullable(node: Any) -> Any:
    """Translate OpenAPI's ``nullable: true`` into JSON Schema that allows null."""
    if isinstance(node, list):
        return [_fix_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _fix_nullable(value) for key, value in node.items()}
    if out.get("nullable") is not True:
        return out
    del out["nullable"]
    if "type" not in out:
        return {"anyOf": [out, {"type": "null"}]}
    types = out["type"] if isinstance(out["type"], list) else [out["type"]]
    out["type"] = [*types, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


@functools.cache
def _registry() -> Registry[Any]:
    document = _fix_nullable(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
    resource: Resource[Any] = DRAFT202012.create_resource(document)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    ref = {"$ref": f"{_SPEC_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_registry())


def validate(schema_name: str, instance: Any) -> list[str]:
    """Errors of instance against a component schema of the OpenAI spec (empty if valid)."""
    errors = sorted(_validator(schema_name).iter_errors(instance), key=lambda e: list(e.path))
    return [
        f"{schema_name} at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in errors
    ]


@functools.cache
def schema_properties(schema_name: str) -> frozenset[str]:
    """Top-level property names of a component schema."""
    schema = _registry().contents(f"{_SPEC_URI}")["components"]["schemas"][schema_name]
    return frozenset(schema.get("properties", {}))


# ------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Text:
    """One content delta."""

    content: str
    delay: float = 0.0


@dataclass(frozen=True)
class Texts:
    """Several content deltas, ``delay`` seconds apart."""

    parts: Sequence[str]
    delay: float = 0.0


@dataclass(frozen=True)
class Reasoning:
    """A reasoning delta, as DeepSeek (reasoning_content) or OpenRouter/Ollama (reasoning)."""

    content: str
    field: Literal["reasoning_content", "reasoning"] = "reasoning_content"
    delay: float = 0.0


@dataclass(frozen=True)
class ToolCallFragments:
    """A tool call streamed as fragments: id and name first, then the argument pieces."""

    index: int
    id: str
    name: str
    parts: Sequence[str]
    delay: float = 0.0


def tool_call(
    index: int, id: str, name: str, arguments: str | JSON, split: int = 3, delay: float = 0.0
) -> ToolCallFragments:
    """A tool call whose JSON arguments are split into ``split`` pieces."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    size = max(1, -(-len(text) // max(1, split)))
    parts = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    return ToolCallFragments(index, id, name, parts, delay)


@dataclass(frozen=True)
class Finish:
    """The chunk carrying finish_reason."""

    reason: str = "stop"


@dataclass(frozen=True)
class Usage:
    """Token usage reported in the final chunk (or the non-streamed body)."""

    prompt: int
    completion: int


@dataclass(frozen=True)
class Comment:
    """An SSE comment line, as gateways send while a request waits."""

    text: str = ": PROCESSING"


@dataclass(frozen=True)
class ErrorInStream:
    """An ``{"error": {...}}`` data line inside a 200 stream; the stream ends after it."""

    message: str = "Internal server error"
    type: str = "server_error"
    code: str | None = None


@dataclass(frozen=True)
class Drop:
    """Close the connection abruptly (no [DONE], incomplete body)."""


@dataclass(frozen=True)
class Stall:
    """Send nothing for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class EndWithoutFinish:
    """Send [DONE] now, without a finish_reason chunk."""


@dataclass(frozen=True)
class StopWithoutDone:
    """End the body cleanly now: no finish_reason chunk, no usage, no [DONE]."""


@dataclass(frozen=True)
class EmptyStream:
    """A 200 event stream with no chunk at all (must be the only step)."""


@dataclass(frozen=True)
class CorruptChunk:
    """A data line that is not JSON."""

    raw: str = '{"choices": [{"index": 0, "delta": {"content": "bro'


@dataclass(frozen=True)
class HttpError:
    """The whole answer is an HTTP error with the real error body (must be the only step)."""

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    headers: dict[str, str] | None = None
    param: str | None = None


Step = (
    Text
    | Texts
    | Reasoning
    | ToolCallFragments
    | Finish
    | Usage
    | Comment
    | ErrorInStream
    | Drop
    | Stall
    | EndWithoutFinish
    | StopWithoutDone
    | EmptyStream
    | CorruptChunk
    | HttpError
)


def invalid_api_key(key: str = "sk-wrong") -> HttpError:
    """401 for a wrong key, as OpenAI words it."""
    masked = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 7 else key
    return HttpError(
        401,
        f"Incorrect API key provided: {masked}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def region_forbidden() -> HttpError:
    """403: country, region or territory not supported."""
    return HttpError(
        403,
        "Country, region, or territory not supported",
        "request_forbidden",
        "unsupported_country_region_territory",
    )


def model_not_found(model: str) -> HttpError:
    """404 for an unknown model."""
    return HttpError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def context_length_exceeded(limit: int = 128000, used: int = 130000) -> HttpError:
    """400 when the prompt does not fit the model's context."""
    return HttpError(
        400,
        f"This model's maximum context length is {limit} tokens. However, your messages "
        f"resulted in {used} tokens. Please reduce the length of the messages.",
        code="context_length_exceeded",
        param="messages",
    )


def rate_limited(retry_after: int | None = 1, model: str = "gpt-4o-mini") -> HttpError:
    """429 rate limit (retryable) with a Retry-After header (None: without, as LiteLLM)."""
    return HttpError(
        429,
        f"Rate limit reached for {model} in organization org-fake on tokens per min (TPM): "
        f"Limit 30000, Used 30000, Requested 100. Please try again in {retry_after or 1}s.",
        "tokens",
        "rate_limit_exceeded",
        headers=None if retry_after is None else {"Retry-After": str(retry_after)},
    )


def insufficient_quota() -> HttpError:
    """429 that must not be retried: the account is out of credit."""
    return HttpError(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    )


def server_error(status: int = 500) -> HttpError:
    """500 (or 503 overloaded) server error."""
    if status == 503:
        return HttpError(
            503, "The engine is currently overloaded, please try again later.", "server_error"
        )
    return HttpError(
        status,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
    )


# ---------------------------------------------------------------------- recording


@dataclass
class RecordedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Recorded:
    """One request received by the fake (the Authorization header is left out)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, RecordedFile] = field(default_factory=dict)
    time: float = field(default_factory=time.monotonic)
    # Streamed chat answers only (time.monotonic): when the first non-empty content delta
    # and the last data chunk (finish or usage chunk, just before [DONE]) were written.
    first_content_at: float | None = None
    last_chunk_at: float | None = None
    client_closed: bool = False  # the client went away before the stream ended


def _error_response(error: HttpError, dialect: Dialect = DIALECTS["openai"]) -> web.Response:
    body = dialect.error_body(error.status, error.message, error.type, error.code)
    if dialect.error_style == "openai":
        body["error"]["param"] = error.param
    headers = {"x-request-id": f"req_{secrets.token_hex(12)}", **(error.headers or {})}
    return web.json_response(body, status=error.status, headers=headers)


def last_user_text(body: JSON) -> str:
    """Text of the last user message of a chat request (text parts joined)."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def _echo(body: JSON) -> list[Step]:
    return [Text(f"echo: {last_user_text(body)}")]


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


# ------------------------------------------------------------------------- server


class FakeOpenAI(LocalServer):
    """An OpenAI-compatible API on 127.0.0.1 whose chat answers are scripted by tests.

    `dialect` picks the provider whose shapes it speaks (see tests/fakes/dialects.py).
    """

    shutdown_timeout = 0.1

    def __init__(
        self,
        api_key: str = "sk-test-0000000000000000",
        models: Sequence[str] = ("gpt-4o-mini",),
        *,
        check_model: bool = True,
        dialect: str = "openai",
    ) -> None:
        self.api_key = api_key
        self.models = list(models)
        self.check_model = check_model
        self.dialect = DIALECTS[dialect]
        self.ignore_stream = False  # answer streamed requests with one whole completion
        self.requests: list[Recorded] = []
        self.spec_violations: list[str] = []
        self.emitted_chunks: list[JSON] = []
        self._replies: deque[list[Step]] = deque()
        self._default: Callable[[JSON], list[Step]] = _echo
        self._transcriptions: deque[str | HttpError] = deque()
        self._speech: deque[bytes | HttpError] = deque()
        self._images: deque[bytes | str | HttpError] = deque()
        self._image_files: dict[str, bytes] = {}

    # ---- lifecycle

    @property
    def base_url(self) -> str:
        """The API root to give the SDK: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_url(self) -> str:
        """The full URL of the chat endpoint (BizCity's own path in that dialect)."""
        return f"http://127.0.0.1:{self.port}{self.dialect.chat_path}"

    def make_app(self) -> web.Application:
        """Large bodies (images, audio) and the auth/recording middleware."""
        return web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._middleware])

    def routes(self, app: web.Application) -> None:
        """Chat at the dialect's path; the other endpoints where the provider has them."""
        app.router.add_post(self.dialect.chat_path, self._chat)
        if self.dialect.other_endpoints:
            app.router.add_get("/v1/models", self._list_models)
            app.router.add_get("/v1/models/{model}", self._get_model)
            app.router.add_post("/v1/audio/transcriptions", self._transcribe)
            app.router.add_post("/v1/audio/speech", self._speak)
            app.router.add_post("/v1/images/generations", self._generate_image)
        app.router.add_get("/images/{name}", self._image_file)

    async def start(self) -> FakeOpenAI:
        """Serve on a free port of 127.0.0.1."""
        await super().start()
        return self

    # ---- scripting and inspection

    def script(self, *steps: Step) -> None:
        """Queue one reply: the next chat request is answered with these steps."""
        if any(isinstance(s, HttpError) for s in steps[1:]):
            raise ValueError("HttpError must be the only step of a reply")
        self._replies.append(list(steps))

    def set_default(self, fn: Callable[[JSON], list[Step]]) -> None:
        """Answer chat requests with fn(request_json) when no scripted reply is queued."""
        self._default = fn

    def script_transcription(self, result: str | HttpError) -> None:
        """Queue the text (or error) of the next transcription."""
        self._transcriptions.append(result)

    def script_speech(self, result: bytes | HttpError) -> None:
        """Queue the audio bytes (or error) of the next speech request."""
        self._speech.append(result)

    def script_image(self, result: bytes | str | HttpError) -> None:
        """Queue the next image: bytes (b64_json or served URL), a URL string, or an error."""
        self._images.append(result)

    def chat_requests(self) -> list[JSON]:
        """Bodies of the chat completion requests, in order."""
        return [r.json for r in self.requests if r.path == self.dialect.chat_path]

    def last_messages(self) -> list[JSON]:
        """The ``messages`` of the last chat completion request."""
        bodies = self.chat_requests()
        return list(bodies[-1].get("messages", [])) if bodies else []

    # ---- plumbing

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path.startswith("/images/"):
            return await handler(request)  # type: ignore[no-any-return]
        await self._record(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer ").strip():
            return self._error(
                HttpError(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)",
                )
            )
        if auth.removeprefix("Bearer ") != self.api_key:
            return self._error(invalid_api_key(auth.removeprefix("Bearer ")))
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except web.HTTPNotFound:
            return self._error(HttpError(404, f"Invalid URL ({request.method} {request.path})"))

    async def _record(self, request: web.Request) -> None:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        record = Recorded(request.method, request.path, headers)
        if request.content_type == "application/json":
            try:
                record.json = await request.json()
            except ValueError:
                record.json = None
        elif request.content_type == "multipart/form-data":
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    value.file.seek(0)
                    record.files[key] = RecordedFile(value.filename, value.content_type, data)
                else:
                    record.fields[key] = str(value)
        self.requests.append(record)

    def _error(self, error: HttpError) -> web.Response:
        return _error_response(error, self.dialect)

    def _check(self, schema_name: str, body: Any) -> None:
        self.spec_violations.extend(validate(schema_name, body))

    # ---- chat completions

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        record = self.requests[-1]
        body = record.json
        if not isinstance(body, dict):
            return self._error(HttpError(400, "We could not parse the JSON body of your request."))
        self._check("CreateChatCompletionRequest", body)
        model = str(body.get("model", ""))
        if self.check_model and model not in self.models:
            return self._error(model_not_found(model))
        if "max_tokens" in body and model.startswith(("o1", "o3", "o4", "gpt-5")):
            return self._error(
                HttpError(
                    400,
                    "Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead.",
                    code="unsupported_parameter",
                    param="max_tokens",
                )
            )
        steps = self._replies.popleft() if self._replies else self._default(body)
        if steps and isinstance(steps[0], HttpError):
            return self._error(steps[0])
        expanded: list[Step] = []
        forced = self.dialect.reasoning_field
        for step in steps:
            if isinstance(step, Texts):
                expanded.extend(Text(part, step.delay) for part in step.parts)
            elif isinstance(step, Reasoning) and forced:
                expanded.append(Reasoning(step.content, forced, step.delay))  # type: ignore[arg-type]
            else:
                expanded.append(step)
        if body.get("stream") and not self.ignore_stream:
            return await _ChatStream(self, request, body, record).run(expanded)
        return await self._complete(request, body, expanded)

    async def _complete(
        self, request: web.Request, body: JSON, steps: list[Step]
    ) -> web.StreamResponse:
        content, reasoning = "", ""
        calls: list[JSON] = []
        finish: str | None = None
        usage: Usage | None = None
        for step in steps:
            if isinstance(step, Text | Reasoning | ToolCallFragments) and step.delay:
                await asyncio.sleep(step.delay)
            if isinstance(step, Text):
                content += step.content
            elif isinstance(step, Reasoning):
                reasoning += step.content
            elif isinstance(step, ToolCallFragments):
                function = {"name": step.name, "arguments": "".join(step.parts)}
                calls.append({"id": step.id, "type": "function", "function": function})
            elif isinstance(step, Finish):
                finish = step.reason
            elif isinstance(step, Usage):
                usage = step
            elif isinstance(step, Stall):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Drop):
                if request.transport is not None:
                    request.transport.close()
                return web.Response()
            elif isinstance(step, ErrorInStream):
                return web.json_response(
                    self.dialect.error_body(500, step.message, step.type, step.code)
                )
        message: JSON = {"role": "assistant", "content": content or None, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        if reasoning:
            message["reasoning_content"] = reasoning
        usage = usage or Usage(_tokens(json.dumps(body.get("messages"))), _tokens(content))
        if not self.dialect.openai_fields:
            del message["refusal"]
        return web.json_response(
            {
                **self.dialect.extra,
                "id": f"chatcmpl-{secrets.token_hex(12)}",
                "object": self.dialect.whole_object,
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": finish or ("tool_calls" if calls else "stop"),
                    }
                ],
                "usage": _usage(usage),
                "system_fingerprint": "fp_fake",
            }
        )

    # ---- models

    async def _list_models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [_model(model_id) for model_id in self.models]}
        )

    async def _get_model(self, request: web.Request) -> web.Response:
        model_id = request.match_info["model"]
        if model_id not in self.models:
            return _error_response(model_not_found(model_id))
        return web.json_response(_model(model_id))

    # ---- audio and images

    async def _transcribe(self, request: web.Request) -> web.Response:
        record = self.requests[-1]
        allowed = schema_properties("CreateTranscriptionRequest")
        for name in [*record.fields, *record.files]:
            if name not in allowed:
                self.spec_violations.append(f"CreateTranscriptionRequest: unknown field {name!r}")
        upload = record.files.get("file")
        for name, present in (("file", upload is not None), ("model", "model" in record.fields)):
            if not present:
                self.spec_violations.append(f"CreateTranscriptionRequest: missing {name!r}")
                return _error_response(
                    HttpError(
                        400,
                        f"Missing required parameter: '{name}'.",
                        param=name,
                        code="missing_required_parameter",
                    )
                )
        assert upload is not None
        if len(upload.data) > MAX_AUDIO_BYTES:
            return _error_response(
                HttpError(
                    413,
                    f"Maximum content size limit ({MAX_AUDIO_BYTES}) exceeded "
                    f"({len(upload.data)} bytes read)",
                    "server_error",
                )
            )
        extension = (upload.filename or "").rsplit(".", 1)[-1].lower()
        if extension not in AUDIO_FORMATS:
            return _error_response(
                HttpError(400, f"Invalid file format. Supported formats: {list(AUDIO_FORMATS)}")
            )
        result = self._transcriptions.popleft() if self._transcriptions else "hello"
        if isinstance(result, HttpError):
            return _error_response(result)
        response_format = record.fields.get("response_format", "json")
        if response_format in ("text", "srt", "vtt"):
            return web.Response(text=result)
        if response_format == "verbose_json":
            return web.json_response(
                {
                    "task": "transcribe",
                    "language": record.fields.get("language", "english"),
                    "duration": 1.0,
                    "text": result,
                    "segments": [],
                }
            )
        return web.json_response({"text": result})

    async def _speak(self, request: web.Request) -> web.Response:
        body = self.requests[-1].json
        self._check("CreateSpeechRequest", body)
        if not isinstance(body, dict) or not body.get("input"):
            return _error_response(
                HttpError(
                    400,
                    "Missing required parameter: 'input'.",
                    param="input",
                    code="missing_required_parameter",
                )
            )
        result = self._speech.popleft() if self._speech else None
        if isinstance(result, HttpError):
            return _error_response(result)
        response_format = str(body.get("response_format") or "mp3")
        audio = result if result is not None else b"OggS" + bytes(60)
        return web.Response(
            body=audio, content_type=_AUDIO_TYPES.get(response_format, "audio/mpeg")
        )

    async def _generate_image(self, request: web.Request) -> web.Response:
        body = self.requests[-1].json
        self._check("CreateImageRequest", body)
        if not isinstance(body, dict) or not body.get("prompt"):
            return _error_response(
                HttpError(
                    400,
                    "Missing required parameter: 'prompt'.",
                    param="prompt",
                    code="missing_required_parameter",
                )
            )
        result = self._images.popleft() if self._images else _PNG_1X1
        if isinstance(result, HttpError):
            return _error_response(result)
        if isinstance(result, str):
            item: JSON = {"url": result}
        elif body.get("response_format") == "url":
            name = f"img-{secrets.token_hex(6)}.png"
            self._image_files[name] = result
            item = {"url": f"http://127.0.0.1:{self.port}/images/{name}"}
        else:
            item = {"b64_json": base64.b64encode(result).decode()}
        count = int(body.get("n") or 1)
        return web.json_response(
            {"created": int(time.time()), "data": [dict(item) for _ in range(count)]}
        )

    async def _image_file(self, request: web.Request) -> web.Response:
        data = self._image_files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/png")


def _model(model_id: str) -> JSON:
    return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "openai"}


def _usage(usage: Usage) -> JSON:
    return {
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


class _ChatStream:
    """Writes one streamed chat completion as SSE, in the fake's dialect."""

    def __init__(
        self, fake: FakeOpenAI, request: web.Request, body: JSON, record: Recorded | None = None
    ) -> None:
        self.fake, self.request, self.body = fake, request, body
        self.dialect = fake.dialect
        self.record = record
        self.base = {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "created": int(time.time()),
            "model": body.get("model"),
        }
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        self.response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-request-id": f"req_{secrets.token_hex(12)}",
            }
        )
        self.completion_tokens = 0
        self.said = False

    def _chunk(self, delta: JSON | None, finish: str | None = None) -> JSON:
        chunk = self.dialect.chunk(self.base, delta, finish)
        if self.include_usage and self.dialect.usage_chunk:
            chunk["usage"] = None
        return chunk

    async def _send(self, chunk: JSON) -> None:
        self.fake.emitted_chunks.append(chunk)
        if self.record is not None:
            now = time.monotonic()
            self.record.last_chunk_at = now
            choices = chunk["choices"]
            if (
                self.record.first_content_at is None
                and choices
                and choices[0]["delta"].get("content")
            ):
                self.record.first_content_at = now
        await self.response.write(f"data: {json.dumps(chunk)}\n\n".encode())

    async def _finish(self, reason: str) -> None:
        if self.dialect.role_after_content and self.said:
            await self._send(self._chunk({}))
        await self._send(self._chunk({}, reason))

    async def run(self, steps: list[Step]) -> web.StreamResponse:
        """Stream the steps; a client that goes away mid-stream is recorded as such."""
        try:
            return await self._run(steps)
        except ConnectionError:
            if self.record is not None:
                self.record.client_closed = True
            return self.response
        except asyncio.CancelledError:
            if self.record is not None:
                self.record.client_closed = True
            raise

    async def _run(self, steps: list[Step]) -> web.StreamResponse:
        """Stream the steps; add the finish chunk, the usage chunk and [DONE] as needed."""
        await self.response.prepare(self.request)
        if steps and isinstance(steps[0], EmptyStream):
            await self.response.write_eof()
            return self.response
        first = self.dialect.first_delta()
        if first is not None:
            await self._send(self._chunk(first))
        finished, tools, usage = False, False, None
        for step in steps:
            if isinstance(step, Text | Reasoning | ToolCallFragments) and step.delay:
                await asyncio.sleep(step.delay)
            if isinstance(step, Finish):
                finished = True
                await self._finish(step.reason)
            elif isinstance(step, Usage):
                usage = step
            elif isinstance(step, ToolCallFragments):
                tools = True
                await self._tool_call(step)
            elif isinstance(step, EndWithoutFinish):
                finished = True
                break
            elif not await self._write_step(step):
                return self.response
        if not finished:
            await self._finish("tool_calls" if tools else "stop")
        if (self.include_usage and self.dialect.usage_chunk) or usage is not None:
            prompt = _tokens(json.dumps(self.body.get("messages")))
            usage = usage or Usage(prompt, self.completion_tokens)
            await self._send({**self._chunk(None), "usage": _usage(usage)})
        await self.response.write(b"data: [DONE]\n\n")
        await self.response.write_eof()
        return self.response

    async def _write_step(self, step: Step) -> bool:
        """Write one content-ish step; False when the stream ends with it."""
        if isinstance(step, Text):
            self.completion_tokens += _tokens(step.content)
            self.said = True
            await self._send(self._chunk({"content": step.content}))
        elif isinstance(step, Reasoning):
            await self._send(self._chunk({"content": None, step.field: step.content}))
        elif isinstance(step, Comment):
            text = step.text if step.text.startswith(":") else f": {step.text}"
            await self.response.write(f"{text}\n\n".encode())
        elif isinstance(step, Stall):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, CorruptChunk):
            await self.response.write(f"data: {step.raw}\n\n".encode())
        elif isinstance(step, ErrorInStream):
            body = self.dialect.error_body(500, step.message, step.type, step.code)
            await self.response.write(f"data: {json.dumps(body)}\n\n".encode())
            await self.response.write_eof()
            return False
        elif isinstance(step, StopWithoutDone):
            await self.response.write_eof()
            return False
        elif isinstance(step, Drop):
            if self.request.transport is not None:
                self.request.transport.close()
            return False
        return True

    async def _tool_call(self, step: ToolCallFragments) -> None:
        self.said = True
        first = {
            "index": step.index,
            "id": step.id,
            "type": "function",
            "function": {"name": step.name, "arguments": ""},
        }
        await self._send(self._chunk({"tool_calls": [first]}))
        for part in step.parts:
            fragment = {"index": step.index, "function": {"arguments": part}}
            await self._send(self._chunk({"tool_calls": [fragment]}))
