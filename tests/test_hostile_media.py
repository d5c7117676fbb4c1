"""Hostile files: image bombs refused from their header or decoded small, PDF bombs bounded."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import time

import pytest
from PIL import Image
from pypdf import PdfReader

from bot.errors import InputError
from bot.media import MediaLimits, image_part, read_document
from bot.sandbox import Sandbox, run_job
from tests.media_samples import pdf_page_tree_bomb, photo, png_bomb

MB = 1024

LIMITS = MediaLimits()


def _jpeg_of(part: dict[str, object]) -> Image.Image:
    url = part["image_url"]["url"]  # type: ignore[index]
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


@pytest.mark.parametrize("side", [6000, 10000])
async def test_png_bombs_are_refused_from_their_header(side: int) -> None:
    data = png_bomb(side)
    assert len(data) < 400_000
    with pytest.raises(InputError) as caught:
        await image_part(data, LIMITS)
    assert caught.value.user_key == "error_image_too_large"
    assert caught.value.params["width"] == side


@pytest.mark.parametrize("side", [6000, 10000])
async def test_png_bombs_never_take_150_mb(side: int) -> None:
    params = {"max_side": LIMITS.max_side, "max_pixels": LIMITS.max_pixels}
    result = await run_job("image", png_bomb(side), params, LIMITS.timeout)
    assert result.finished and result.peak_kb > 0
    assert result.peak_kb - result.idle_kb < 150 * MB


@pytest.mark.parametrize(("side", "mode", "fmt"), [(5400, "RGB", "PNG"), (5400, "RGBA", "PNG")])
async def test_the_largest_accepted_pictures_stay_under_150_mb(
    side: int, mode: str, fmt: str
) -> None:
    out = io.BytesIO()
    Image.new(mode, (side, side), (1, 2, 3)).save(out, fmt)
    params = {"max_side": LIMITS.max_side, "max_pixels": LIMITS.max_pixels}
    result = await run_job("image", out.getvalue(), params, LIMITS.timeout)
    assert [list(line) for line in result.lines] == [["jpeg"]]
    assert result.peak_kb - result.idle_kb < 150 * MB


async def test_a_big_jpeg_is_decoded_already_scaled_down() -> None:
    data = photo(6000, 6000)
    params = {"max_side": LIMITS.max_side, "max_pixels": LIMITS.max_pixels}
    result = await run_job("image", data, params, LIMITS.timeout)
    assert result.peak_kb - result.idle_kb < 100 * MB
    image = _jpeg_of(await image_part(data, LIMITS))
    assert max(image.size) <= LIMITS.max_side


async def test_broken_image_is_reported_as_broken() -> None:
    with pytest.raises(InputError) as caught:
        await image_part(b"\x89PNG\r\n\x1a\nnot really", LIMITS)
    assert caught.value.user_key == "error_image_broken"


async def test_pdf_page_tree_bomb_is_read_in_bounded_time_and_cut() -> None:
    data = pdf_page_tree_bomb()
    assert len(data) < 4000 and len(PdfReader(io.BytesIO(data)).pages) == 200
    limits = MediaLimits(max_pages=50, max_chars=1_000_000, timeout=2.0)
    started = time.monotonic()
    document = await read_document(data, "bomb.pdf", "application/pdf", limits)
    assert time.monotonic() - started < limits.timeout + 1.5
    assert document.cut and document.pages_total == 200
    assert 0 < document.pages_read < 50 and document.text.startswith("ab")


async def test_pdf_reading_stops_at_the_page_and_character_limits() -> None:
    data = pdf_page_tree_bomb(operators=200)
    by_pages = await read_document(data, "b.pdf", None, MediaLimits(max_pages=3))
    assert (by_pages.pages_read, by_pages.pages_total, by_pages.cut) == (3, 200, True)
    by_chars = await read_document(data, "b.pdf", None, MediaLimits(max_chars=1000))
    assert by_chars.pages_read == 3 and len(by_chars.text) == 1000 and by_chars.cut


async def test_a_pdf_whose_first_page_is_too_slow_gets_a_clear_error() -> None:
    data = pdf_page_tree_bomb(copies=2, operators=200_000)
    with pytest.raises(InputError) as caught:
        await read_document(data, "b.pdf", None, MediaLimits(timeout=0.5))
    assert caught.value.user_key == "error_file_too_complex"


async def test_the_event_loop_keeps_running_while_a_pdf_is_read() -> None:
    data = pdf_page_tree_bomb()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    # Read or stopped by the time limit (a cold child process may not get a page done in
    # time): either way the event loop went on ticking meanwhile.
    with contextlib.suppress(InputError):
        await read_document(data, "bomb.pdf", None, MediaLimits(timeout=1.0))
    ticker.cancel()
    assert ticks > 50


async def test_a_huge_text_file_is_decoded_only_as_far_as_the_limit() -> None:
    data = ("é" * 1_000_000).encode()
    document = await read_document(data, "big.txt", "text/plain", MediaLimits(max_chars=1000))
    assert document.text == "é" * 1000 and document.cut


async def test_the_shared_sandbox_runs_at_most_its_number_of_jobs_at_once() -> None:
    limits = MediaLimits(timeout=1.0, sandbox=Sandbox(max_jobs=1))
    slow = pdf_page_tree_bomb(copies=1, operators=200_000)  # always stopped by the time limit
    started = time.monotonic()
    results = await asyncio.gather(
        *(read_document(slow, "a.pdf", None, limits) for _ in range(2)), return_exceptions=True
    )
    assert all(isinstance(r, InputError) for r in results)
    assert time.monotonic() - started >= 2 * limits.timeout
