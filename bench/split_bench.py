"""Splitting and rendering hostile answers: time and pieces per shape.

    python bench/split_bench.py            (this tree)
    PYTHONPATH=/other/tree python bench/split_bench.py   (another copy, for a before/after)

Each shape is split 5 times (best time kept) and each piece rendered once.
The live reply also splits the growing answer once per delivery: "growing" times a
split of every 1,000-character prefix, as a 43 KB fence answer streams in.
Prints figures only, asserts nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from handlers import formatting
from handlers.formatting import render_markdown, split_markdown


def shapes() -> dict[str, str]:
    """The hostile answers, by name."""
    code = "\n".join(f"line {i} " + "y" * 60 for i in range(560))
    return {
        "fence 43 KB (4,000-char opener)": "Here:\n\n```" + "x" * 4000 + "\n" + code + "\n```\n",
        "nested list 254 KB": "\n".join("  " * (i % 40) + f"- item {i}" for i in range(5000)),
        "unbalanced markers 100 KB": ("**a _b `c ~~d [e](" * 6000)[:100_000],
        "no newline 100 KB": ("word " * 20_000)[:100_000],
        "ordinary Markdown 93 KB": "\n\n".join(
            f"Paragraph {i}: **bold** _it_ `code` " + "lorem ipsum " * 40 for i in range(180)
        ),
    }


def best(run: Callable[[], object], times: int = 5) -> float:
    """The best wall time of `times` runs, in ms."""
    results = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        results.append(time.perf_counter() - started)
    return min(results) * 1000


def growing(text: str) -> float:
    """ms to split every 1,000-character prefix, the way the live reply sees the answer grow."""
    splitter = getattr(formatting, "GrowingSplit", None)
    split = splitter().split if splitter else split_markdown
    started = time.perf_counter()
    for end in range(1000, len(text) + 1000, 1000):
        split(text[:end])
    return (time.perf_counter() - started) * 1000


def main() -> None:
    """Print one line per shape."""
    columns = ("chars", "pieces", "split ms", "render ms", "growing ms")
    print(f"{'shape':34} " + " ".join(f"{c:>10}" for c in columns))
    for name, text in shapes().items():
        pieces = split_markdown(text)
        split_ms = best(lambda text=text: split_markdown(text), 3)
        started = time.perf_counter()
        for piece in pieces:
            render_markdown(piece)
        render_ms = (time.perf_counter() - started) * 1000
        grow = growing(text) if len(text) < 60_000 else float("nan")
        figures = (f"{len(text)}", f"{len(pieces)}", f"{split_ms:.1f}", f"{render_ms:.1f}")
        print(f"{name:34} " + " ".join(f"{f:>10}" for f in (*figures, f"{grow:.1f}")))


if __name__ == "__main__":
    main()
