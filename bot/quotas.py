"""Daily quotas: per-user messages and tokens, per-group messages, reset at local midnight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from datetime import time as clock_time
from typing import Literal, Protocol

from bot.errors import BotError
from storage import ModelUsage

QuotaKind = Literal["messages", "tokens", "group"]


class QuotaCounts(Protocol):
    """The part of the store quotas read."""

    async def turn_count(
        self, since: float, *, user_id: int | None = None, chat_id: int | None = None
    ) -> int:
        """How many turns one user and/or one chat had since `since`."""
        ...

    async def usage_by_model(self, since: float, user_id: int | None = None) -> list[ModelUsage]:
        """Turns and tokens per model since `since`."""
        ...


@dataclass(frozen=True)
class QuotaLimits:
    """The daily limits (0 = unlimited)."""

    daily_messages: int = 0
    daily_tokens: int = 0
    group_daily_messages: int = 0

    @property
    def any(self) -> bool:
        """Whether any limit is set."""
        return bool(self.daily_messages or self.daily_tokens or self.group_daily_messages)


class LimitReachedError(BotError):
    """A daily quota is used up; no model is called until it resets."""

    def __init__(self, kind: QuotaKind, limit: int, resets_at: datetime, now: datetime) -> None:
        super().__init__(f"daily {kind} limit {limit} reached")
        self.kind = kind
        self.user_key = f"quota_{kind}"
        wait = max(int((resets_at - now).total_seconds()), 0)
        self.params = {
            "limit": limit,
            "time": resets_at.strftime("%H:%M"),
            "zone": resets_at.tzname() or "",
            "hours": wait // 3600,
            "minutes": (wait % 3600) // 60,
        }


def day_start(now: float, zone: tzinfo) -> datetime:
    """The last local midnight before `now` (a Unix time) in `zone`."""
    local = datetime.fromtimestamp(now, zone)
    return datetime.combine(local.date(), clock_time(0), zone)


def next_midnight(now: float, zone: tzinfo) -> datetime:
    """The next local midnight after `now` in `zone`."""
    tomorrow = datetime.fromtimestamp(now, zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, clock_time(0), zone)


def month_start(now: float, zone: tzinfo) -> datetime:
    """Local midnight of the first day of `now`'s month in `zone`."""
    local = datetime.fromtimestamp(now, zone)
    return datetime.combine(local.date().replace(day=1), clock_time(0), zone)


async def check_quota(
    counts: QuotaCounts,
    limits: QuotaLimits,
    *,
    now: float,
    zone: tzinfo,
    user_id: int | None,
    group_id: int | None,
) -> LimitReachedError | None:
    """The limit this turn would pass (for a user, and the group when in one), or None."""
    if not limits.any:
        return None
    since = day_start(now, zone).timestamp()
    resets = next_midnight(now, zone)
    local_now = datetime.fromtimestamp(now, zone)
    if limits.group_daily_messages and group_id is not None:
        used = await counts.turn_count(since, chat_id=group_id)
        if used >= limits.group_daily_messages:
            return LimitReachedError("group", limits.group_daily_messages, resets, local_now)
    if user_id is None:
        return None
    if limits.daily_messages:
        used = await counts.turn_count(since, user_id=user_id)
        if used >= limits.daily_messages:
            return LimitReachedError("messages", limits.daily_messages, resets, local_now)
    if limits.daily_tokens:
        usage = await counts.usage_by_model(since, user_id)
        used = sum(u.prompt_tokens + u.completion_tokens for u in usage)
        if used >= limits.daily_tokens:
            return LimitReachedError("tokens", limits.daily_tokens, resets, local_now)
    return None
