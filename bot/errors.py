"""The error tree: what can go wrong in a turn, and which message the user sees for it.

Each class names its i18n key (`user_key`); (r) marks the errors retried while
nothing has been shown, (f) those a fallback model may answer instead::

    BotError                          error_unexpected
    ├── InputError                    the key given when raised (error_too_long_input, ...)
    └── ProviderError                 error_provider
        ├── ProviderAuthError         error_auth               401, AceData invalid_token (f)
        ├── ProviderPermissionError   error_permission         403 (f)
        ├── ModelNotFoundError        error_model_not_found    404 (f)
        ├── RateLimitedError          error_rate_limited       429, too_many_requests (r, f)
        ├── QuotaExceededError        error_quota              402, 429 insufficient_quota (f)
        ├── ContextTooLongError       error_context            400 context_length_exceeded
        │   └── MessageTooLongError   error_message_too_long   ... for the new message alone
        ├── ToolsUnsupportedError     error_provider           400 "does not support tools"
        ├── VisionUnsupportedError    error_vision_unsupported 400 "does not support images"
        ├── BadRequestError           error_bad_request        other 400s (token_mismatched,
        │                                                      api_not_implemented)
        ├── BadResponseError          error_bad_response       200 that is no completion (f)
        ├── ServerError               error_server             5xx, api_error, error in a
        │   │                                                  200 stream (r, f)
        │   └── CorruptAnswerError    error_corrupt_answer     unreadable chunk (r, f)
        ├── ProviderTimeoutError      error_timeout            no answer in time (r, f)
        ├── ConnectionFailedError     error_connection         unreachable, dropped or empty
        │                                                      before any text (r, f)
        └── StreamInterruptedError    error_interrupted        stalled, dropped or cut after
                                                               text was shown (the reply is
                                                               kept and marked)
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot expects; `user_key` names the i18n message shown."""

    user_key = "error_unexpected"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.__class__.__name__)
        self.detail = detail


class ProviderError(BotError):
    """The chat provider refused or failed a request."""

    user_key = "error_provider"
    retryable = False


class ProviderAuthError(ProviderError):
    """401: the API key is wrong."""

    user_key = "error_auth"


class ProviderPermissionError(ProviderError):
    """403: no access to the model, or the region is not served."""

    user_key = "error_permission"


class ModelNotFoundError(ProviderError):
    """404: the model does not exist at this provider."""

    user_key = "error_model_not_found"


class RateLimitedError(ProviderError):
    """429 rate limit: worth retrying after `retry_after` seconds."""

    user_key = "error_rate_limited"
    retryable = True

    def __init__(self, detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class QuotaExceededError(ProviderError):
    """429 insufficient_quota: the account is out of credit; never retried."""

    user_key = "error_quota"


class ContextTooLongError(ProviderError):
    """400 context_length_exceeded: the request does not fit the model's window."""

    user_key = "error_context"


class MessageTooLongError(ContextTooLongError):
    """The new message alone does not fit the model's window: shrinking history cannot help."""

    user_key = "error_message_too_long"


class ToolsUnsupportedError(ProviderError):
    """The provider or model rejects the `tools` parameter."""

    user_key = "error_provider"


class VisionUnsupportedError(ProviderError):
    """The model rejects image input."""

    user_key = "error_vision_unsupported"


class BadRequestError(ProviderError):
    """Another 400 from the provider."""

    user_key = "error_bad_request"


class BadResponseError(ProviderError):
    """The provider answered 200 with something that is not a completion (a wrong base URL)."""

    user_key = "error_bad_response"


class ServerError(ProviderError):
    """5xx from the provider: retried with backoff, then reported."""

    user_key = "error_server"
    retryable = True


class CorruptAnswerError(ServerError):
    """The provider sent a chunk or body that is not readable JSON."""

    user_key = "error_corrupt_answer"


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time."""

    user_key = "error_timeout"
    retryable = True


class ConnectionFailedError(ProviderError):
    """The provider could not be reached."""

    user_key = "error_connection"
    retryable = True


class StreamInterruptedError(ProviderError):
    """The stream stalled, dropped or carried an error after it had started."""

    user_key = "error_interrupted"

    def __init__(self, detail: str = "", stalled: bool = False) -> None:
        super().__init__(detail)
        self.stalled = stalled


class InputError(BotError):
    """The user's input cannot be handled (too big, unsupported, broken)."""

    user_key = "error_input"

    def __init__(self, user_key: str, detail: str = "", **params: object) -> None:
        super().__init__(detail or user_key)
        self.user_key = user_key
        self.params = params
