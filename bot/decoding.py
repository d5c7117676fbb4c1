"""Bounded decoding of untrusted files: images read header first, PDFs page by page.

These functions run inside the sandbox process (bot/sandbox.py); they are
plain and synchronous so that they can be tested directly as well.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bot.errors import InputError

if TYPE_CHECKING:
    from PIL import Image as PILImage

JPEG_QUALITY = 85
DECODE_BUDGET = 120 * 1024 * 1024
# Pillow keeps 1, L and P in one byte a pixel, the 16-bit modes in two, all others in four.
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
_ERRORS_OF_BROKEN = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError)


def _too_large(width: int, height: int, max_pixels: int) -> InputError:
    return InputError(
        "error_image_too_large",
        f"{width}x{height}",
        width=width,
        height=height,
        limit=max(1, round(max_pixels / 1_000_000)),
    )


def _reduced(image: PILImage.Image, max_side: int) -> PILImage.Image:
    """A copy at most `max_side` a side, by block averaging where that needs no extra copy."""
    from PIL import Image

    if max(image.size) <= 2 * max_side:
        return image
    factor = -(-max(image.size) // max_side)
    if image.mode in ("RGB", "L", "I", "F", "CMYK"):
        return image.reduce(factor)
    # reduce() would first copy alpha images premultiplied, and refuses palette images.
    size = (max(1, image.width // factor), max(1, image.height // factor))
    return image.resize(size, Image.Resampling.NEAREST)


def _load_small(data: bytes, max_side: int, max_pixels: int) -> PILImage.Image:
    """The picture decoded, already made small; the full-size pixels are freed on return."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        width, height = opened.size
        if width * height > max_pixels:
            raise _too_large(width, height, max_pixels)
        if opened.format == "JPEG":
            scale = max(width, height) / max_side
            if scale > 1:
                opened.draft("RGB", (int(width / scale), int(height / scale)))
        else:
            # Decoded whole first: the pixels allowed depend on the bytes each one takes
            # (WebP is decoded into a buffer, then copied: about four times as much).
            per_pixel = _BYTES_PER_PIXEL.get(opened.mode, 4) * (4 if opened.format == "WEBP" else 1)
            allowed = max(0, DECODE_BUDGET - len(data)) // per_pixel
            if width * height > allowed:
                raise _too_large(width, height, min(allowed, max_pixels))
        opened.load()
        return _reduced(opened, max_side)


def _flatten(image: PILImage.Image) -> PILImage.Image:
    """RGB or L, transparent parts on white."""
    from PIL import Image

    if image.mode in ("RGB", "L"):
        return image
    converted = image.convert("RGBA")
    background = Image.new("RGB", converted.size, (255, 255, 255))
    background.paste(converted, mask=converted.split()[-1])
    return background


def decode_image(data: bytes, max_side: int, max_pixels: int) -> bytes:
    """A JPEG of at most `max_side` pixels a side; pictures over `max_pixels` are refused.

    The header is read first; JPEGs are decoded already scaled down (draft
    mode), other formats are reduced right after decoding, and refused when
    their decoded pixels alone would take more than DECODE_BUDGET bytes.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = _flatten(ImageOps.exif_transpose(_load_small(data, max_side, max_pixels)))
        image.thumbnail((max_side, max_side))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        return out.getvalue()
    except Image.DecompressionBombError as exc:
        raise InputError("error_image_too_large", str(exc), limit=max_pixels // 1_000_000) from exc
    except (UnidentifiedImageError, MemoryError, *_ERRORS_OF_BROKEN) as exc:
        raise InputError("error_image_broken", f"{type(exc).__name__}: {exc}") from exc


def pdf_pages(data: bytes, max_pages: int) -> Iterator[tuple[int, str]]:
    """(page count, text) for each of the PDF's first `max_pages` pages, one at a time."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        count = len(reader.pages)
        for number in range(min(count, max_pages)):
            yield count, reader.pages[number].extract_text() or ""
    except MemoryError as exc:
        raise InputError("error_document_broken", "out of memory") from exc
    except Exception as exc:  # pypdf raises many kinds (encrypted files, odd streams)
        raise InputError("error_document_broken", f"{type(exc).__name__}: {exc}") from exc
