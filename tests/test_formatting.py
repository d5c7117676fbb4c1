"""Splitting long answers and rendering Markdown to Telegram entities."""

from __future__ import annotations

import json

from handlers.formatting import (
    PIECE_LIMIT,
    TELEGRAM_TEXT_LIMIT,
    GrowingSplit,
    render_markdown,
    split_markdown,
    utf16_len,
)
from tests.spec_files import spec_path

SPEC = spec_path("telegram-bot-api.json")


def test_short_text_is_one_piece() -> None:
    assert split_markdown("hello **world**") == ["hello **world**"]


def test_long_text_splits_at_paragraphs_and_keeps_every_word() -> None:
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum " * 40 for i in range(40)]
    text = "\n\n".join(paragraphs)
    pieces = split_markdown(text)
    assert len(pieces) > 1
    assert all(utf16_len(p) <= PIECE_LIMIT for p in pieces)
    for piece in pieces:
        assert piece.startswith("Paragraph")
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


def test_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"x_{i} = {i}  # some comment to make it long" for i in range(400))
    text = f"Here:\n\n```python\n{code}\n```\n\nDone."
    pieces = split_markdown(text)
    assert len(pieces) >= 3
    for piece in pieces[:-1]:
        assert piece.rstrip().endswith("```")
    for piece in pieces[1:]:
        assert piece.startswith("```python\n")
    for piece in pieces:
        rendered = render_markdown(piece)
        assert any(dict(e)["type"] == "pre" for e in rendered.entities)
    lines = [ln for p in pieces for ln in p.splitlines() if ln.startswith("x_")]
    assert len(lines) == 400


def test_pieces_already_complete_do_not_change_as_text_grows() -> None:
    text = "\n\n".join(f"Line {i} " + "abc " * 50 for i in range(80))
    full = split_markdown(text)
    for cut in range(len(text) // 2, len(text), 997):
        partial = split_markdown(text[:cut])
        assert partial[:-1] == full[: len(partial) - 1]


def test_no_boundary_forces_a_hard_cut_without_losing_characters() -> None:
    text = "x" * 10000
    pieces = split_markdown(text)
    assert "".join(pieces) == text
    assert all(utf16_len(p) <= PIECE_LIMIT for p in pieces)


def test_emoji_count_as_two_utf16_units() -> None:
    text = "😀" * 3000
    pieces = split_markdown(text)
    assert all(utf16_len(p) <= PIECE_LIMIT for p in pieces)
    assert "".join(pieces) == text


def test_render_produces_entities_in_utf16_offsets() -> None:
    rendered = render_markdown("😀 **bold** and `code` and [link](https://example.com)")
    entities = {dict(e)["type"]: dict(e) for e in rendered.entities}
    assert rendered.text.startswith("😀 bold")
    assert entities["bold"]["offset"] == 3  # the emoji takes two UTF-16 units
    assert entities["bold"]["length"] == 4
    assert entities["text_link"]["url"] == "https://example.com"


def test_render_unbalanced_markdown_stays_readable() -> None:
    rendered = render_markdown("a **half open bold and `code")
    assert "half open bold" in rendered.text


def test_rendered_entities_use_only_fields_telegram_knows() -> None:
    spec = json.loads(SPEC.read_text())
    known = {f["name"] for f in spec["types"]["MessageEntity"]["fields"]}
    types_line = next(f for f in spec["types"]["MessageEntity"]["fields"] if f["name"] == "type")[
        "description"
    ]
    rendered = render_markdown(
        "# Title\n\n**b** _i_ ~~s~~ `c`\n\n```js\nx()\n```\n\n> quote\n\n- [l](https://x.y)"
    )
    assert rendered.entities
    for entity in rendered.entity_dicts():
        assert set(entity) <= known
        assert f"“{entity['type']}”" in types_line or entity["type"] in types_line


def test_rendered_piece_fits_telegram_limit() -> None:
    text = "**" + "bold words " * 1000 + "**"
    for piece in split_markdown(text):
        assert utf16_len(render_markdown(piece).text) <= TELEGRAM_TEXT_LIMIT


def _hostile_answers() -> dict[str, str]:
    code = "\n".join(f"line {i} " + "y" * 60 for i in range(560))
    return {
        "long fence line": "```" + "x" * 4000 + "\n" + code + "\n```\n",
        "long fence marker": "`" * 4000 + "\n" + code + "\n" + "`" * 4000 + "\n",
        "nested list": "\n".join("  " * (i % 40) + f"- item {i}" for i in range(5000)),
        "unbalanced markers": ("**a _b `c ~~d [e](" * 6000)[:100_000],
        "no newline": ("word " * 20_000)[:100_000],
        "no boundary": "x" * 100_000,
        "emoji without newline": "😀 **" * 25_000,
    }


def test_hostile_answers_split_into_few_pieces_that_fit_after_rendering() -> None:
    for name, text in _hostile_answers().items():
        pieces = split_markdown(text)
        assert len(pieces) <= utf16_len(text) / PIECE_LIMIT + 3, name
        for piece in pieces:
            assert utf16_len(piece) <= PIECE_LIMIT, name
            assert utf16_len(render_markdown(piece).text) <= TELEGRAM_TEXT_LIMIT, name


def test_a_long_fence_line_is_reopened_short() -> None:
    text = _hostile_answers()["long fence line"]
    pieces = split_markdown(text)
    assert len(pieces) <= 12
    for piece in pieces[1:]:
        assert len(piece.split("\n", 1)[0]) <= 3 + 32
    lines = [ln for p in pieces for ln in p.splitlines() if ln.startswith("line ")]
    assert len(lines) == 560


def test_no_piece_is_less_than_three_quarters_full_except_the_last() -> None:
    text = "\n".join("z" * 2001 for _ in range(50))
    pieces = split_markdown(text)
    assert len(pieces) <= len(text) / (PIECE_LIMIT * 3 / 4) + 1
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_growing_split_matches_a_full_split_at_every_length() -> None:
    answers = [*_hostile_answers().values()]
    answers.append("\n\n".join(f"Line {i} " + "abc " * 50 for i in range(80)))
    answers.append("Intro\n\n```python\n" + "\n".join(f"x = {i}" for i in range(3000)) + "\n```")
    for text in answers:
        text = text[:60_000]
        growing = GrowingSplit()
        for cut in [*range(0, len(text), 1777), len(text)]:
            assert growing.split(text[:cut]) == split_markdown(text[:cut])
        # the text replaced by another one (a final answer) is split afresh
        assert growing.split("other " + text[:5000]) == split_markdown("other " + text[:5000])
