"""Replicas under load: 1 and 3 `python -m bot` processes in webhook mode behind a balancer.

    python -m bench.replicas [--chats 300] [--tokens 40] [--delay 0.02] [--lease 5]

Every replica shares one fresh PostgreSQL database (`bash scripts/postgres.sh` provides the
server; TEST_DATABASE_URL overrides its DSN). The balancer is nginx (round-robin over the
replicas' ports) when `nginx` is installed, else a small round-robin aiohttp proxy in this
process. The fake Telegram (real default flood limits) and the fake provider run here; each
chat's one message is POSTed to the balancer with the webhook secret. Runs: 1 replica,
3 replicas, and 3 replicas with one SIGKILLed once half the replies are complete (its
conversations are taken over after INBOX_LEASE). Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bench.harness import (
    API_KEY,
    CHAT_PATH,
    FIRST_CHAT,
    MODEL,
    ROOT,
    TOKEN,
    BotProcess,
    ResourceSampler,
    bot_env,
    chat_ids,
    chat_of,
    fmt,
    run_main,
    say,
    summarize_log,
    table,
    tagged,
)
from handlers.intake import derive_webhook_secret
from tests.fakes.openai import FakeOpenAI, Step, Texts
from tests.fakes.telegram import FakeTelegram

HOOK_PATH = "/tg"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
READY_TIMEOUT = 60.0
WEBHOOK_CONNECTIONS = 40  # the bot registers max_connections=40, as Telegram then uses
POST_ATTEMPTS = 5
HEADERS = (
    "run",
    "complete",
    "lost",
    "dup",
    "reordered",
    "429s",
    "POST 200 (retried)",
    "wall s",
    "floor s",
    "CPU ms/reply",
    "takeover s",
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database."""
    head, _, tail = url.partition("?")
    root = head.rsplit("/", 1)[0] if head.count("/") > 2 else head
    return f"{root}/{name}" + (f"?{tail}" if tail else "")


def postgres_dsn() -> str:
    """TEST_DATABASE_URL, or the DSN scripts/postgres.sh prints (starting the server)."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        return url
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh")],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout.strip().splitlines()[-1]


@contextlib.asynccontextmanager
async def fresh_database(base: str) -> Any:
    """A new empty PostgreSQL database on `base`'s server, dropped afterwards."""
    name = f"bot_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(base, name)
    finally:
        admin = await asyncpg.connect(base)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# ------------------------------------------------------------------------------ balancers


class NginxBalancer:
    """nginx from the system, round-robin over the replicas, config in a temp directory."""

    kind = "nginx"

    def __init__(self, workdir: Path, port: int, upstreams: list[int]) -> None:
        self.workdir = workdir
        self.port = port
        self.upstreams = upstreams
        self.proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        servers = "".join(
            f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n" for p in self.upstreams
        )
        tmp = self.workdir
        return (
            f"pid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log warn;\n"
            "worker_processes 1;\nevents { worker_connections 2048; }\n"
            "http {\n  access_log off;\n"
            f"  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n"
            f"  scgi_temp_path {tmp}/scgi;\n"
            f"  upstream bots {{\n{servers}  }}\n"
            f"  server {{\n    listen 127.0.0.1:{self.port};\n    location / {{\n"
            "      proxy_pass http://bots;\n      proxy_connect_timeout 5s;\n"
            "      proxy_next_upstream error timeout http_502 http_503;\n"
            "    }\n  }\n}\n"
        )

    async def start(self) -> None:
        """Write the config and start nginx in the foreground (as our child)."""
        self.proc = self._spawn()
        await wait_port(self.port, 10, lambda: self.proc is not None and self.proc.poll() is None)

    def _spawn(self) -> subprocess.Popen[bytes]:
        conf = self.workdir / "nginx.conf"
        conf.write_text(self._config())
        return subprocess.Popen(
            [
                "nginx",
                "-p",
                str(self.workdir),
                "-e",
                str(self.workdir / "nginx-error.log"),
                "-c",
                str(conf),
                "-g",
                "daemon off;",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "nginx.out").open("wb"),
        )

    async def stop(self) -> None:
        """Stop nginx (SIGQUIT, then SIGKILL)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)
        try:
            await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 5)
        except TimeoutError:
            self.proc.kill()


class ProxyBalancer:
    """A tiny round-robin aiohttp proxy (used when nginx is missing); tries the next on error."""

    kind = "aiohttp proxy"

    def __init__(self, workdir: Path, port: int, upstreams: list[int]) -> None:
        self.port = port
        self.upstreams = upstreams
        self._next = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        assert self._session is not None
        for _ in self.upstreams:
            port = self.upstreams[self._next % len(self.upstreams)]
            self._next += 1
            url = f"http://127.0.0.1:{port}{request.path_qs}"
            try:
                async with self._session.request(
                    request.method, url, data=body, headers=headers
                ) as resp:
                    return web.Response(status=resp.status, body=await resp.read())
            except aiohttp.ClientConnectionError:
                continue
        return web.Response(status=502)

    async def start(self) -> None:
        """Listen on 127.0.0.1:port."""
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()


async def wait_port(port: int, timeout: float, alive: Any) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"the process for port {port} exited")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:g} s")


# ------------------------------------------------------------------------------ one run


@dataclass
class Outcome:
    """What one run measured."""

    label: str
    chats: int
    done: dict[int, float] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    sent_at: float = 0.0
    killed_at: float | None = None
    cpu: float = 0.0
    notes: list[str] = field(default_factory=list)


def answer_words(tokens: int) -> list[str]:
    """`tokens` one-word deltas of a plain sentence."""
    return [("Word" if i == 0 else f" w{i}") for i in range(tokens)] + ["."]


def last_part(text: str | None) -> str:
    """A reply's answer without a note before it (a taken-over turn keeps what was shown)."""
    return (text or "").rsplit("\n\n", 1)[-1]


async def wait_ready(
    bots: list[BotProcess], ports: list[int], telegram: FakeTelegram, timeout: float
) -> None:
    """Wait until every replica answers /healthz with 200 and the webhook is registered."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        pending = list(zip(bots, ports, strict=True))
        while pending or telegram.webhook is None:
            for bot, port in list(pending):
                if not bot.alive:
                    raise RuntimeError(f"a replica exited before ready:\n{bot.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200:
                            pending.remove((bot, port))
            if time.monotonic() > deadline:
                raise TimeoutError(f"replicas not ready within {timeout:g} s")
            await asyncio.sleep(0.1)


async def post_all(port: int, updates: list[dict[str, Any]]) -> list[int]:
    """POST every update to the balancer as Telegram does; per update, the failed attempts.

    Like Telegram: at most MAX_WEBHOOK_CONNECTIONS (40) requests at a time, and an update
    not answered 200 is sent again (here after 0.5 s, up to 5 attempts; 0 = 200 at once,
    -1 = never accepted).
    """
    secret = derive_webhook_secret(TOKEN)
    connector = aiohttp.TCPConnector(limit=WEBHOOK_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def attempt(update: dict[str, Any]) -> int:
            try:
                async with session.post(
                    f"http://127.0.0.1:{port}{HOOK_PATH}",
                    json=update,
                    headers={SECRET_HEADER: secret},
                ) as resp:
                    return resp.status
            except (aiohttp.ClientError, TimeoutError):
                return 0

        async def one(update: dict[str, Any]) -> int:
            for failed in range(POST_ATTEMPTS):
                if await attempt(update) == 200:
                    return failed
                await asyncio.sleep(0.5)
            return -1

        return list(await asyncio.gather(*(one(u) for u in updates)))


def replica_env(
    telegram: FakeTelegram,
    provider: FakeOpenAI,
    url: str,
    lb: int,
    port: int,
    i: int,
    args: argparse.Namespace,
) -> dict[str, str]:
    """One replica's settings."""
    return bot_env(
        {
            "PTB_TIMEDELTA": "1",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": telegram.base_url,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": provider.base_url,
            "OPENAI_MODEL": MODEL,
            "DATABASE_URL": url,
            "ALLOWED_USER_IDS": "*",
            "TOOLS": "none",
            "LOG_LEVEL": "INFO",
            "WEBHOOK_URL": f"http://127.0.0.1:{lb}{HOOK_PATH}",
            "PORT": str(port),
            "REPLICA_ID": f"replica-{i}",
            "INBOX_LEASE": str(args.lease),
            "SHUTDOWN_GRACE": "2",
            "STREAM_MODE": args.mode,
        }
    )


async def wait_replies(
    out: Outcome,
    telegram: FakeTelegram,
    expected: str,
    bots: list[BotProcess],
    samplers: list[ResourceSampler],
    kill: bool,
    timeout: float,
) -> None:
    """Wait for every chat's complete reply (or timeout); SIGKILL bots[0] at half, if asked."""
    chats = chat_ids(out.chats)
    pending = set(chats)
    deadline = out.sent_at + timeout
    while pending and time.monotonic() < deadline:
        for chat in list(pending):
            if last_part(telegram.last_text(chat)) == expected:
                out.done[chat] = time.monotonic()
                pending.discard(chat)
        if kill and out.killed_at is None and len(out.done) >= out.chats // 2:
            samplers[0].stop()
            assert bots[0].proc is not None
            bots[0].proc.send_signal(signal.SIGKILL)
            out.killed_at = time.monotonic()
            say(f"{out.label}: SIGKILLed replica-0 with {len(out.done)} replies complete")
        await asyncio.sleep(0.05)


def describe(
    out: Outcome,
    telegram: FakeTelegram,
    provider: FakeOpenAI,
    expected: str,
    bots: list[BotProcess],
    balancer: str,
) -> list[str]:
    """The run's row."""
    chats = chat_ids(out.chats)
    final_ok = {c for c in chats if last_part(telegram.last_text(c)) == expected}
    dup = [c for c in chats if len(telegram.bot_messages(c)) > 1]
    reordered = [c for c in out.done if c not in final_ok]  # complete once, changed after
    requests: dict[int, int] = {}
    for record in provider.requests:
        if record.path == CHAT_PATH and (chat := chat_of(record.json)) is not None:
            requests[chat] = requests.get(chat, 0) + 1
    noted = [c for c in final_ok if telegram.last_text(c) != expected]
    last = max(out.done.values()) if out.done else float("nan")
    takeover = ""
    if out.killed_at is not None:
        killed_at = out.killed_at
        open_at_kill = {
            chat
            for record in provider.requests
            if record.path == CHAT_PATH
            and record.time < killed_at
            and (chat := chat_of(record.json)) is not None
            and out.done.get(chat, killed_at + 1) > killed_at
        }
        out.notes.append(
            f"  at the kill: {len(out.done) - len([t for t in out.done.values() if t > killed_at])}"
            f" replies complete; {len(open_at_kill)} chats had a provider request started "
            "but no complete reply (turns in flight on any replica)"
        )
        after = [t for t in out.done.values() if t > out.killed_at]
        takeover = fmt(max(after) - out.killed_at, 1) if after else "-"
    text = "\n".join(b.log_path.read_text(errors="replace") for b in bots if b.log_path.exists())
    out.notes += [
        f"{out.label} ({balancer}): bot logs: " + "; ".join(summarize_log(text).describe()),
        f"  chats with more than one provider request: "
        f"{sum(1 for n in requests.values() if n > 1)}; replies shown with a note before "
        f"the answer (a taken-over turn): {len(noted)}",
    ]
    msg_calls = sum(1 for c in telegram.calls if c.method in ("sendMessage", "editMessageText"))
    out.notes.append(
        f"  sendMessage + editMessageText per reply {fmt(msg_calls / out.chats, 2)}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if dup:
        shown = [(m.text or "")[-60:] for m in telegram.bot_messages(dup[0])]
        out.notes.append(f"  {len(dup)} chats got more than one message, e.g. {dup[0]}: {shown}")
    if telegram.rate_limited:
        out.notes.append(f"  429s: {telegram.rate_limited[:5]}")
    if telegram.spec_violations:
        out.notes.append(f"  spec violations: {telegram.spec_violations[:3]}")
    return [
        out.label,
        f"{len(final_ok)}/{out.chats}",
        str(out.chats - len(final_ok)),
        str(len(dup)),
        str(len(reordered)),
        str(len(telegram.rate_limited)),
        f"{sum(1 for s in out.statuses if s >= 0)}/{out.chats} "
        f"({sum(1 for s in out.statuses if s > 0)} retried)",
        fmt(last - out.sent_at, 1),
        fmt(out.chats / 30, 1),
        fmt(out.cpu / out.chats * 1000, 1),
        takeover or "-",
    ]


async def measure(args: argparse.Namespace, base: str, replicas: int, kill: bool) -> Outcome:
    """One run: fresh database, fakes, balancer, replicas; returns the outcome with its row."""
    label = f"{replicas} replica{'s' if replicas > 1 else ''}" + (", 1 killed" if kill else "")
    out = Outcome(label, args.chats)
    parts = answer_words(args.tokens)
    expected = "".join(parts)

    def respond(body: dict[str, Any]) -> list[Step]:
        return [Texts(parts, args.delay)]

    workdir = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    telegram = FakeTelegram(TOKEN)  # real defaults: private 1/s burst 3, 30/s, 20/min groups
    provider = FakeOpenAI(api_key=API_KEY, models=(MODEL,))
    ports = [free_port() for _ in range(replicas)]
    lb = free_port()
    kind = NginxBalancer if shutil.which("nginx") and not args.proxy else ProxyBalancer
    balancer = kind(workdir, lb, ports)
    bots: list[BotProcess] = []
    started = time.monotonic()
    async with fresh_database(base) as url:
        await telegram.start()
        await provider.start()
        provider.set_default(respond)
        try:
            await balancer.start()
            for i, port in enumerate(ports):
                (workdir / f"r{i}").mkdir()
                env = replica_env(telegram, provider, url, lb, port, i, args)
                bots.append(BotProcess(workdir / f"r{i}", env))
                bots[-1].start()
            await wait_ready(bots, ports, telegram, READY_TIMEOUT)
            say(f"{label}: ready after {time.monotonic() - started:.1f} s; sending")
            updates = []
            for chat in chat_ids(args.chats):
                telegram.user_message(
                    chat, tagged(chat, "Hello?"), first_name=f"U{chat - FIRST_CHAT}"
                )
                updates.append(telegram.updates[-1])
            samplers = [ResourceSampler(b.pid) for b in bots]
            for sampler in samplers:
                sampler.start()
            out.sent_at = time.monotonic()
            out.statuses = await post_all(lb, updates)
            await wait_replies(out, telegram, expected, bots, samplers, kill, args.timeout)
            await asyncio.sleep(1.0)  # a late stale edit would still show
            for sampler in samplers:
                if not kill or sampler is not samplers[0]:
                    sampler.stop()
            out.cpu = sum(s.cpu_seconds for s in samplers)
        finally:
            await asyncio.gather(*(b.stop() for b in bots), return_exceptions=True)
            await balancer.stop()
            row = describe(out, telegram, provider, expected, bots, balancer.kind)
            out.notes.insert(0, "\t".join(row))
            await provider.stop()
            await telegram.stop()
            if args.keep:
                say(f"  kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    say(f"{label}: finished after {time.monotonic() - started:.1f} s")
    return out


async def main(args: argparse.Namespace) -> None:
    """The three runs, then the table and notes."""
    base = postgres_dsn()
    rows: list[list[str]] = []
    notes: list[str] = []
    for name in args.runs:
        replicas, kill = int(name.rstrip("k")), name.endswith("k")
        try:
            out = await measure(args, base, replicas, kill)
            rows.append(out.notes[0].split("\t"))
            notes += out.notes[1:]
        except Exception as exc:
            rows.append([f"{replicas}{' killed' if kill else ''}", "failed", *["-"] * 9])
            notes.append(f"{replicas} replicas: failed: {type(exc).__name__}: {exc}")
        say(table(HEADERS, rows[-1:]))
    print(
        f"replicas: {args.chats} private chats, one message each, POSTed to the balancer "
        f"40 at a time; {args.tokens} one-word chunks per answer, {args.delay * 1000:g} ms apart; "
        f"PostgreSQL; INBOX_LEASE={args.lease:g}; STREAM_MODE={args.mode}; "
        "fake Telegram with its default flood limits"
    )
    print()
    print(table(HEADERS, rows))
    print()
    print("\n".join(notes))


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description="Replicas behind a balancer, one killed.")
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=40, help="chunks (tokens) per answer")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds between chunks")
    parser.add_argument("--lease", type=float, default=5.0, help="the replicas' INBOX_LEASE")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run's replies")
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["1", "3", "3k"],
        help="replica counts to run; a trailing k SIGKILLs one replica halfway",
    )
    parser.add_argument("--mode", choices=["edit", "draft"], default="edit", help="STREAM_MODE")
    parser.add_argument("--proxy", action="store_true", help="the aiohttp proxy even with nginx")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (logs)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_main(main(parse_args(sys.argv[1:])))
