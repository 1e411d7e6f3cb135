"""loopkit's one markdown-it parser is markdown-it-py as it ships (issues 21 and 24).

A replaced block loop and wrapped block rules once made `journal parse` quadratic on a journal
without blank lines (a 4 MB one never finished). Rules loopkit does not need are switched off
through markdown-it's own `disable`; nothing of the parser is replaced.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.parser_block import ParserBlock
from markdown_it.parser_core import ParserCore
from markdown_it.parser_inline import ParserInline

from loopkit.markdown.tokens import parser

# every chain markdown-it's rulers keep: the main one ("") and the block rules' terminator chains
_CHAINS = ("", "paragraph", "reference", "blockquote", "list")


def test_no_attribute_of_the_parser_is_replaced() -> None:
    ours, fresh = parser(), MarkdownIt("commonmark")
    for mine, theirs in (
        (ours, fresh),
        (ours.core, fresh.core),
        (ours.block, fresh.block),
        (ours.inline, fresh.inline),
        (ours.core.ruler, fresh.core.ruler),
        (ours.block.ruler, fresh.block.ruler),
        (ours.inline.ruler, fresh.inline.ruler),
    ):
        assert type(mine) is type(theirs)
        assert set(vars(mine)) == set(vars(theirs))
    # the parsers' loops are markdown-it's own methods, not functions set on the instance
    assert "tokenize" not in vars(ours.block) and "parse" not in vars(ours.block)
    assert ours.block.tokenize.__func__ is ParserBlock.tokenize  # type: ignore[attr-defined]
    assert ours.core.process.__func__ is ParserCore.process  # type: ignore[attr-defined]
    assert ours.inline.tokenize.__func__ is ParserInline.tokenize  # type: ignore[attr-defined]


def test_every_rule_is_markdown_its_own_function() -> None:
    ours, fresh = parser(), MarkdownIt("commonmark")
    for part in ("core", "block", "inline", "inline2"):
        mine = getattr(ours, part).ruler if part != "inline2" else ours.inline.ruler2
        theirs = getattr(fresh, part).ruler if part != "inline2" else fresh.inline.ruler2
        for chain in _CHAINS:
            wanted = theirs.getRules(chain)
            # switched off rules are left out; the others are the very functions, in order
            assert [fn for fn in wanted if fn in mine.getRules(chain)] == mine.getRules(chain)
            assert all(fn in wanted for fn in mine.getRules(chain))


def test_only_rules_loopkit_never_needs_are_off() -> None:
    ours = parser().get_active_rules()
    fresh = MarkdownIt("commonmark").get_active_rules()
    assert ours["block"] == fresh["block"]  # every block construct reads as CommonMark says
    assert [name for name in fresh["core"] if name not in ours["core"]] == ["inline", "text_join"]


def test_the_cycle_collector_is_paused_only_during_a_parse() -> None:
    import gc

    from loopkit.markdown.journal import parse_journal
    from loopkit.markdown.tokens import collector_paused, parse

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    parse_journal("## 2026-06-13 — x\n- `curl -s h` → 200 ✓\n")
    parse("text\n")
    assert gc.isenabled()
    try:
        with collector_paused():
            raise ValueError
    except ValueError:
        pass
    assert gc.isenabled()
    gc.disable()  # a caller that paused it already keeps it paused
    try:
        parse("text\n")
        assert not gc.isenabled()
    finally:
        gc.enable()
