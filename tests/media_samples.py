"""Real media bytes made by the tests: OGG/Opus voice, JPEG/PNG photos, a text PDF."""

from __future__ import annotations

import array
import io
import math
import zlib

import av
from PIL import Image


def ogg_opus_voice(seconds: float = 1.0, rate: int = 48000) -> bytes:
    """An OGG/Opus voice note (a 440 Hz tone), like Telegram's voice messages."""
    buffer = io.BytesIO()
    samples = int(seconds * rate)
    pcm = array.array(
        "h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(samples))
    ).tobytes()
    with av.open(buffer, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(pcm)
        frame.rate = rate
        for packet in stream.encode(frame):  # type: ignore[union-attr]
            container.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            container.mux(packet)
    return buffer.getvalue()


def photo(
    width: int, height: int, fmt: str = "JPEG", colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A photo of the given size with a simple pattern."""
    image = Image.new("RGB", (width, height), colour)
    for x in range(0, width, max(width // 8, 1)):
        for y in range(height):
            image.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def text_pdf(text: str) -> bytes:
    """A one-page PDF whose text layer holds `text`."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def png_bomb(side: int, mode: str = "RGB") -> bytes:
    """A small PNG file of `side` x `side` pixels of one colour (it compresses to almost nothing)."""
    out = io.BytesIO()
    Image.new(mode, (side, side), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def pdf_page_tree_bomb(copies: int = 200, operators: int = 20000) -> bytes:
    """A few KB of PDF whose page tree lists one heavy page (compressed text operators) many times."""
    stream = zlib.compress(b"BT /F1 1 Tf " + b"1 0 0 1 0 0 Tm (ab) Tj " * operators + b"ET")
    kids = " ".join(["3 0 R"] * copies).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count " + str(copies).encode() + b" >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length "
        + str(len(stream)).encode()
        + b" /Filter /FlateDecode >>\nstream\n"
        + stream
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return _pdf_file(objects)


def _pdf_file(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()
