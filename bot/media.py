"""Images and documents turned into model input: downscaled data URLs, extracted text."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from pathlib import PurePosixPath

from bot.errors import InputError

log = logging.getLogger(__name__)

MAX_IMAGE_SIDE = 2048
JPEG_QUALITY = 85
TEXT_EXTENSIONS = frozenset(
    [
        "txt",
        "md",
        "markdown",
        "rst",
        "csv",
        "tsv",
        "json",
        "jsonl",
        "yaml",
        "yml",
        "toml",
        "ini",
        "cfg",
        "conf",
        "env",
        "log",
        "xml",
        "html",
        "htm",
        "css",
        "py",
        "pyi",
        "js",
        "jsx",
        "ts",
        "tsx",
        "mjs",
        "cjs",
        "java",
        "kt",
        "kts",
        "scala",
        "go",
        "rs",
        "rb",
        "php",
        "c",
        "h",
        "cc",
        "cpp",
        "hpp",
        "cs",
        "swift",
        "m",
        "mm",
        "sh",
        "bash",
        "zsh",
        "fish",
        "ps1",
        "bat",
        "sql",
        "r",
        "lua",
        "pl",
        "dart",
        "vue",
        "svelte",
        "tex",
        "srt",
        "vtt",
        "gradle",
        "dockerfile",
        "makefile",
        "properties",
    ]
)


def _downscale_to_jpeg(data: bytes, max_side: int) -> bytes:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image: Image.Image = ImageOps.exif_transpose(opened)
            if image.mode not in ("RGB", "L"):
                background = Image.new("RGB", image.size, (255, 255, 255))
                converted = image.convert("RGBA")
                background.paste(converted, mask=converted.split()[-1])
                image = background
            image.thumbnail((max_side, max_side))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError("error_image_broken", str(exc)) from exc


async def image_part(data: bytes, max_side: int = MAX_IMAGE_SIDE) -> dict[str, object]:
    """A Chat Completions image part: the picture downscaled, as a `data:` URL (in a thread)."""
    if not data:
        raise InputError("error_image_broken", "empty file")
    jpeg = await asyncio.to_thread(_downscale_to_jpeg, data, max_side)
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
    return {"type": "image_url", "image_url": {"url": url}}


def is_text_document(file_name: str | None, mime_type: str | None) -> bool:
    """Whether a document can be read as text (by type or by extension)."""
    mime = (mime_type or "").lower()
    if mime.startswith("text/") or mime in (
        "application/json",
        "application/xml",
        "application/x-yaml",
        "application/yaml",
        "application/x-sh",
        "application/javascript",
        "application/sql",
        "application/toml",
    ):
        return True
    name = PurePosixPath((file_name or "").lower())
    return name.suffix.lstrip(".") in TEXT_EXTENSIONS or name.name in TEXT_EXTENSIONS


def is_pdf(file_name: str | None, mime_type: str | None) -> bool:
    """Whether a document is a PDF."""
    return (mime_type or "").lower() == "application/pdf" or (file_name or "").lower().endswith(
        ".pdf"
    )


def _decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        return text
    return data.decode("latin-1")


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise InputError("error_document_broken", str(exc)) from exc
    except Exception as exc:  # pypdf raises many kinds (encrypted files, odd streams)
        raise InputError("error_document_broken", f"{type(exc).__name__}: {exc}") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())


async def document_text(
    data: bytes, file_name: str | None, mime_type: str | None, limit: int
) -> tuple[str, bool]:
    """The text of a document (cut to `limit` characters) and whether it was cut."""
    if is_pdf(file_name, mime_type):
        text = await asyncio.to_thread(_pdf_text, data)
    elif is_text_document(file_name, mime_type):
        if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InputError("error_document_type", types="txt, md, csv, json, code, pdf")
        text = await asyncio.to_thread(_decode_text, data)
    else:
        raise InputError("error_document_type", types="txt, md, csv, json, code, pdf")
    text = text.strip()
    if not text:
        raise InputError("error_document_empty")
    if len(text) > limit:
        return text[:limit], True
    return text, False


def escape_markdown(text: str) -> str:
    """Text shown literally inside Markdown (every ASCII punctuation backslash-escaped)."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|~>" else ch for ch in text)
