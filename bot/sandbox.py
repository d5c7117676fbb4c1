"""Untrusted work in a child process: bounded in time and memory, killed when late.

The parent writes one JSON line (the job and its parameters) and the raw
input to the child's stdin; the child answers with JSON lines as it goes, so
the parent keeps what arrived before a time limit (the text of the first pages).
The child gets no environment (no secrets) and a cap on its address space.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import InputError

MEMORY_LIMIT = 1024 * 1024 * 1024
_LINE_LIMIT = 64 * 1024 * 1024
_ROOT = str(Path(__file__).resolve().parent.parent)
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from bot.sandbox import main; main()"

Job = Callable[..., Iterator[dict[str, Any]]]


@dataclass
class JobResult:
    """What a child sent before it ended (or was killed), and its memory figures."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False
    idle_kb: int = 0
    peak_kb: int = 0

    def raise_error(self) -> None:
        """Raise the InputError the child reported, if any."""
        for line in self.lines:
            if "error" in line:
                raise InputError(line["error"], line.get("detail", ""), **line.get("params", {}))


def _child_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}


async def run_job(job: str, data: bytes, params: dict[str, Any], seconds: float) -> JobResult:
    """Run `job` on `data` in a fresh child process, killed after `seconds`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-c",
        _BOOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=_child_env(),
        limit=_LINE_LIMIT,
    )
    assert process.stdin is not None and process.stdout is not None
    result = JobResult()
    try:
        async with asyncio.timeout(seconds):
            header = {"job": job, "params": params, "size": len(data)}
            process.stdin.write(json.dumps(header).encode() + b"\n")
            process.stdin.write(data)
            await process.stdin.drain()
            process.stdin.close()
            while line := await process.stdout.readline():
                _take(result, json.loads(line))
            await process.wait()
            result.finished = process.returncode == 0
    except TimeoutError:
        pass
    except (json.JSONDecodeError, ConnectionError) as exc:
        raise InputError("error_document_broken", f"sandbox: {exc!r}") from exc
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return result


class Sandbox:
    """At most `max_jobs` child processes at once; others wait their turn (created at start-up)."""

    def __init__(self, max_jobs: int = 2) -> None:
        self._gate = asyncio.Semaphore(max_jobs)

    async def run(self, job: str, data: bytes, params: dict[str, Any], seconds: float) -> JobResult:
        """Run `job` when a slot is free; `seconds` counts from the start of the job."""
        async with self._gate:
            return await run_job(job, data, params, seconds)


def _take(result: JobResult, line: dict[str, Any]) -> None:
    if "peak_kb" in line:
        result.idle_kb, result.peak_kb = line["idle_kb"], line["peak_kb"]
    else:
        result.lines.append(line)


# -- the child side -----------------------------------------------------------------------


def _image_job(data: bytes, max_side: int, max_pixels: int) -> Iterator[dict[str, Any]]:
    from bot.decoding import decode_image

    jpeg = decode_image(data, max_side, max_pixels)
    yield {"jpeg": base64.b64encode(jpeg).decode("ascii")}


def _pdf_job(data: bytes, max_pages: int, max_chars: int) -> Iterator[dict[str, Any]]:
    from bot.decoding import pdf_pages

    chars = 0
    for count, text in pdf_pages(data, max_pages):
        yield {"pages": count, "text": text}
        chars += len(text)
        if chars >= max_chars:
            return


_JOBS: dict[str, Job] = {"image": _image_job, "pdf": _pdf_job}


def _max_rss_kb() -> int:
    """The process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def main() -> None:
    """The child: read a job from stdin, answer in JSON lines on stdout."""
    import resource

    import PIL.Image  # noqa: F401  (imported before the idle figure is taken)
    import pypdf  # noqa: F401

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    idle = _max_rss_kb()
    header = json.loads(sys.stdin.buffer.readline())
    data = sys.stdin.buffer.read(header["size"])
    try:
        for line in _JOBS[header["job"]](data, **header["params"]):
            _emit(line)
    except InputError as exc:
        _emit({"error": exc.user_key, "detail": exc.detail, "params": exc.params})
    except MemoryError:
        _emit({"error": "error_file_too_complex", "detail": "out of memory"})
    _emit({"idle_kb": idle, "peak_kb": _max_rss_kb()})
