"""Images and documents turned into model input: downscaled data URLs, extracted text."""

from __future__ import annotations

import asyncio
import base64
import codecs
import logging
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

from bot.errors import InputError
from bot.sandbox import JobResult, Sandbox, run_job
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_IMAGE_SIDE = 2048
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


@dataclass(frozen=True)
class MediaLimits:
    """How much of an untrusted file the bot reads, and for how long."""

    max_side: int = MAX_IMAGE_SIDE
    max_pixels: int = 40_000_000
    max_pages: int = 50
    max_chars: int = 60_000
    timeout: float = 20.0
    sandbox: Sandbox | None = None  # shared by the whole bot: bounds the child processes

    @classmethod
    def from_settings(cls, settings: Settings, sandbox: Sandbox | None = None) -> MediaLimits:
        """The limits configured in the settings."""
        return cls(
            max_side=settings.max_image_side,
            max_pixels=settings.max_image_pixels,
            max_pages=settings.document_max_pages,
            max_chars=settings.document_max_chars,
            timeout=settings.document_timeout,
            sandbox=sandbox,
        )

    async def run(self, job: str, data: bytes, params: dict[str, Any]) -> JobResult:
        """Run a sandbox job within these limits (through the shared sandbox when there is one)."""
        if self.sandbox is not None:
            return await self.sandbox.run(job, data, params, self.timeout)
        return await run_job(job, data, params, self.timeout)


async def image_jpeg(data: bytes, limits: MediaLimits) -> bytes:
    """The picture as a JPEG of at most `max_side` pixels, decoded in the sandbox."""
    if not data:
        raise InputError("error_image_broken", "empty file")
    params = {"max_side": limits.max_side, "max_pixels": limits.max_pixels}
    result = await limits.run("image", data, params)
    result.raise_error()
    for line in result.lines:
        if "jpeg" in line:
            return base64.b64decode(line["jpeg"])
    raise InputError("error_file_too_complex", "no image from the sandbox")


async def image_part(data: bytes, limits: MediaLimits | None = None) -> dict[str, object]:
    """A Chat Completions image part: the picture downscaled, as a `data:` URL."""
    jpeg = await image_jpeg(data, limits or MediaLimits())
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


@dataclass(frozen=True)
class DocumentText:
    """What was read of a document, and what was left out."""

    text: str
    cut_chars: bool = False
    pages_read: int = 0
    pages_total: int = 0
    timed_out: bool = False

    @property
    def cut(self) -> bool:
        """Whether anything of the document was left out."""
        return self.cut_chars or self.pages_read < self.pages_total or self.timed_out


def _decode_text(data: bytes, max_chars: int) -> str:
    # At most 4 bytes a character: the rest of a huge file is never decoded.
    head = data[: max_chars * 4 + 4]
    for encoding in ("utf-8-sig", "utf-16"):
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            return codecs.getincrementaldecoder(encoding)().decode(head, final=head == data)
        except UnicodeDecodeError:
            continue
    return head.decode("latin-1")


async def _pdf_text(data: bytes, limits: MediaLimits) -> DocumentText:
    params = {"max_pages": limits.max_pages, "max_chars": limits.max_chars}
    result = await limits.run("pdf", data, params)
    pages = [line for line in result.lines if "text" in line]
    if not pages:
        result.raise_error()
        if not result.finished:
            raise InputError("error_file_too_complex", "the PDF took too long or too much memory")
    text = "\n\n".join(p["text"].strip() for p in pages if p["text"].strip())
    total = pages[0]["pages"] if pages else 0
    return DocumentText(text, False, len(pages), total, timed_out=not result.finished)


async def read_document(
    data: bytes, file_name: str | None, mime_type: str | None, limits: MediaLimits
) -> DocumentText:
    """The text of a document, read within `limits` (PDFs in the sandbox)."""
    if is_pdf(file_name, mime_type):
        document = await _pdf_text(data, limits)
    elif is_text_document(file_name, mime_type):
        if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InputError("error_document_type", types="txt, md, csv, json, code, pdf")
        document = DocumentText(await asyncio.to_thread(_decode_text, data, limits.max_chars))
    else:
        raise InputError("error_document_type", types="txt, md, csv, json, code, pdf")
    text = document.text.strip()
    if not text:
        raise InputError("error_document_empty")
    if len(text) > limits.max_chars or len(data) > limits.max_chars * 4 + 4:
        document = replace(document, cut_chars=True)
    return replace(document, text=text[: limits.max_chars])


def truncation_note(document: DocumentText, limits: MediaLimits) -> tuple[str, str, dict[str, int]]:
    """What the model and the user are told about a cut document: (note, i18n key, params)."""
    if document.pages_read < document.pages_total or document.timed_out:
        read, total = document.pages_read, document.pages_total
        note = f"\n[Only the first {read} of the file's {total} pages were read.]"
        return note, "document_pages_truncated", {"pages": read, "total": total}
    note = f"\n[The file was cut to its first {limits.max_chars} characters.]"
    return note, "document_truncated", {"limit": limits.max_chars}


def escape_markdown(text: str) -> str:
    """Text shown literally inside Markdown (every ASCII punctuation backslash-escaped)."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|~>" else ch for ch in text)
