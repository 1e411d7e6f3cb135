"""The precompiled text templates (issue 14) pinned to jinja2 (DESIGN: a fast path is pinned to its
slow path): for every templates/*.j2 and generated contexts, the precompiled form renders byte for
byte what jinja2 renders, and raises where jinja2 raises; a fresh form renders without importing
jinja2; an edited, added or deleted override, or a corrupt entry, never shows a stale text."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopkit import precompiled
from loopkit import render as rendering
from loopkit.errors import BadInput
from loopkit.precompiled import runtime

TEMPLATES = rendering.data_dir("templates")
TEXT_TEMPLATES = sorted(path.name for path in TEMPLATES.glob("*.j2"))
# what the runtime does not implement goes through jinja2 every time
JINJA2_ONLY = {"status.md.j2"}  # {% include %}


def _git_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _cache(workspace: Path) -> Path:
    folder = rendering._cache_dir(workspace)
    assert folder is not None
    return folder


def _entry(workspace: Path, name: str) -> precompiled.Entry | None:
    stamp = precompiled.stamp(rendering.__file__)
    assert stamp is not None
    return precompiled.load(
        _cache(workspace),
        name,
        override=workspace / rendering.OVERRIDE_DIR,
        package=TEMPLATES,
        stamp=stamp,
        filters={"oneline": rendering.oneline},
    )


def _precompiled(workspace: Path, name: str) -> precompiled.Entry:
    """The entry render() stores after a jinja2 render, made directly (no context needed)."""
    env = rendering._environment(workspace / rendering.OVERRIDE_DIR, _cache(workspace))
    stamp = precompiled.stamp(rendering.__file__)
    assert stamp is not None
    rendering._precompile(
        env, name, override=workspace / rendering.OVERRIDE_DIR, cache_dir=_cache(workspace), stamp=stamp
    )
    entry = _entry(workspace, name)
    assert entry is not None
    return entry


def _entry_for(workspace: Path, name: str) -> precompiled.Entry:
    entry = _entry(workspace, name)
    assert entry is not None and entry.root is not None
    return entry


def _jinja2(name: str, context: dict[str, Any]) -> str:
    """The reference: jinja2 alone, no cache folder, no precompiled form."""
    return rendering._environment(None).get_template(name).render(**context)


# --- contexts shaped by what the templates use, plus chaos ------------------------------------------

_SOURCES = {name: (TEMPLATES / name).read_text(encoding="utf-8") for name in TEXT_TEMPLATES}
_TAGS = [tag for src in _SOURCES.values() for tag in re.findall(r"{[{%](.*?)[}%]}", src, re.S)]
_LOOPS = [re.match(r"-?\s*for\s+(\w+)(?:\s*,\s*(\w+))?\s+in\s+(\w+)(?:\.(\w+))?", tag) for tag in _TAGS]
_PAIRED = {m.group(3) for m in _LOOPS if m and m.group(2) and not m.group(4)}
_ITERATED = {m.group(4) or m.group(3) for m in _LOOPS if m}
_ITEM_OF = {m.group(4) or m.group(3): m.group(1) for m in _LOOPS if m}
_ATTRS: dict[str, set[str]] = {}
for _tag in _TAGS:
    for _owner, _attr in re.findall(r"\b([a-z_]\w*)\.(\w+)", _tag):
        _ATTRS.setdefault(_owner, set()).add(_attr)
_ATTR_NAMES = sorted({a for attrs in _ATTRS.values() for a in attrs})
_COMPARED: dict[str, set[str]] = {}
for _tag in _TAGS:
    for _var, _lit in re.findall(r'\b(\w+)\s*[!=]=\s*"([^"]*)"', _tag):
        _COMPARED.setdefault(_var, set()).add(_lit)
_LITERALS = sorted({lit for tag in _TAGS for lit in re.findall(r'"([^"\n]*)"', tag)})

_piece = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["{{", "}}", "{%", "#", "## ", "<b>", "<!--", "\n", "\r\n", "\t", " ", "", "—", "é", "→"]
    ),
    st.sampled_from(_LITERALS),
)
TEXT = st.lists(_piece, max_size=4).map("".join)
LITERAL = st.sampled_from(_LITERALS)  # "open", "evidence", "CLAIM": the branches the templates take
LEAF = st.one_of(TEXT, LITERAL, st.none(), st.integers(-5, 10**6), st.booleans())
CHAOS = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.sampled_from(_ATTR_NAMES), inner, max_size=4),
        st.dictionaries(st.sampled_from(_ATTR_NAMES), inner, max_size=4).map(lambda d: SimpleNamespace(**d)),
    ),
    max_leaves=8,
)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the shape the template expects, sometimes anything at all."""
    return st.integers(0, 11).flatmap(lambda i: CHAOS if i == 0 else strategy)


def _record(owner: str, depth: int = 1) -> st.SearchStrategy[Any]:
    """An object or a dict (getattr falls back to items) with the attributes the templates read,
    now and then one of them missing."""
    attrs = sorted(_ATTRS[owner])
    fields = st.fixed_dictionaries({attr: _maybe(_variable(attr, depth - 1)) for attr in attrs})
    dropped = st.integers(0, 5).flatmap(
        lambda i: st.sets(st.sampled_from(attrs), max_size=1) if i == 0 else st.just(set())
    )
    return st.tuples(fields, dropped, st.booleans()).map(
        lambda t: (SimpleNamespace if t[2] else dict)(**{k: v for k, v in t[0].items() if k not in t[1]})
    )


def _variable(var: str, depth: int = 1) -> st.SearchStrategy[Any]:
    if var in _PAIRED:
        return st.lists(st.tuples(TEXT, TEXT), max_size=3)
    if var in _ITERATED:
        item = _ITEM_OF[var]
        if item in _ATTRS and depth >= 0:
            return st.lists(_record(item, depth), max_size=3)
        return st.lists(TEXT, max_size=4)
    if var in _ATTRS and depth >= 0:
        return _record(var, depth)
    return LEAF


def _variables(name: str) -> list[str]:
    from jinja2 import meta

    env = rendering._environment(None)
    names = set(meta.find_undeclared_variables(env.parse(_SOURCES[name])))
    for included in re.findall(r'{%\s*include\s+"([^"]+)"', _SOURCES[name]):
        names |= set(meta.find_undeclared_variables(env.parse(_SOURCES[included])))
    return sorted(names)


def _compared(var: str, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A variable compared with literals (`action == "open"`) is mostly one of them."""
    literals = sorted(_COMPARED.get(var, ()))
    if not literals:
        return strategy
    return st.integers(0, 3).flatmap(lambda i: strategy if i == 0 else st.sampled_from(literals))


def _contexts(name: str) -> st.SearchStrategy[dict[str, Any]]:
    variables = _variables(name)
    values = st.fixed_dictionaries({var: _maybe(_compared(var, _variable(var))) for var in variables})
    # each variable missing now and then (a tested one often): `is defined` and StrictUndefined
    tested = set(re.findall(r"(\w+) is defined", _SOURCES[name]))
    kept = st.fixed_dictionaries(
        {var: st.integers(0, 1 if var in tested else 7).map(bool) for var in variables}
    )
    return st.tuples(values, kept).map(lambda t: {k: v for k, v in t[0].items() if t[1][k]})


def _outcome(fn: Any) -> tuple[str, str | None]:
    try:
        return ("text", fn())
    except Exception:
        return ("raised", None)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _git_repo(tmp_path_factory.mktemp("precompiled") / "repo")


def test_every_text_template_but_the_including_one_is_precompiled(workspace: Path) -> None:
    precompiled = {name for name in TEXT_TEMPLATES if _precompiled(workspace, name).root is not None}
    assert precompiled == set(TEXT_TEMPLATES) - JINJA2_ONLY


@pytest.mark.parametrize("name", sorted(set(TEXT_TEMPLATES) - JINJA2_ONLY))
def test_the_precompiled_form_renders_what_jinja2_renders(workspace: Path, name: str) -> None:
    entry = _precompiled(workspace, name)
    rendered = 0

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(context=_contexts(name))
    def check(context: dict[str, Any]) -> None:
        nonlocal rendered
        slow = _outcome(lambda: _jinja2(name, context))
        fast = _outcome(lambda: entry.render(context))
        assert fast == slow
        if slow[0] == "text":
            rendered += 1
        # and through render(), which falls back to jinja2 (and its message) when the form raises
        through = _outcome(lambda: rendering.render(name, workspace=workspace, **context))
        assert through == slow

    check()
    assert rendered > 0, "no generated context rendered: the strategy is too chaotic for this template"


# whitelisted constructs the shipped templates do not use (yet): an override may
SYNTHETIC = [
    "{% if x %}yes{% else %}no{% endif %}\n",
    "{% if x is defined %}{{ x }}{% else %}-{% endif %}\n",
    "{{ x is undefined }}{{ x is none }}\n",
    "{{ x ~ y }}\n",
    "{{ x ~ 1 }}\n",
    "{{ x[0] }}\n",
    "{{ x['k'] }}\n",
    "{{ x.k }}\n",
    "{{ x[y] }}\n",
    "{% if x.k is defined %}{{ x.k }}{% endif %}\n",
    "{% for a in xs %}[{{ a }}]{% else %}empty{% endfor %}\n",
    "{% for k, v in xs %}{{ k }}={{ v }};{% endfor %}\n",
    "{{ xs | join }}\n",
    "{{ xs | join(y) }}\n",
    "{{ x | lower }}{{ x | upper }}{{ x | capitalize }}\n",
    "{{ x == y }}\n",
    "{{ x != 'a' }}\n",
    "{{ x in xs }}\n",
    "{{ x not in 'abc' }}\n",
    "{{ not x }}\n",
    "{{ x < 3 }}\n",
    "{{ x or y }}\n",
    "{{ x and y }}\n",
    "{{ x + 1 }}\n",
    "{{ -x }}\n",
    "{{ x * 2 }}{{ x // 2 }}{{ x % 2 }}\n",
    "{{ [x, y] }}\n",
    "{{ (x, 1) }}\n",
    "{{ {'a': x} }}\n",
    "{{ 'a' if x else 'b' }}\n",
]
SYNTHETIC_VALUE = st.one_of(
    LEAF, st.lists(LEAF, max_size=3), st.lists(st.tuples(TEXT, LEAF), max_size=2), CHAOS
)


@pytest.mark.parametrize("source", SYNTHETIC)
def test_the_runtime_matches_jinja2_on_every_whitelisted_construct(tmp_path: Path, source: str) -> None:
    workspace = _git_repo(tmp_path / "repo")
    override = workspace / rendering.OVERRIDE_DIR
    override.mkdir()
    (override / "journal-entry.md.j2").write_text(source, encoding="utf-8")
    entry = _precompiled(workspace, "journal-entry.md.j2")
    assert entry.root is not None
    reference = rendering._environment(override).get_template("journal-entry.md.j2")
    contexts = st.fixed_dictionaries(
        {}, optional={"x": SYNTHETIC_VALUE, "y": SYNTHETIC_VALUE, "xs": SYNTHETIC_VALUE}
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(context=contexts)
    def check(context: dict[str, Any]) -> None:
        assert _outcome(lambda: entry.render(context)) == _outcome(lambda: reference.render(**context))

    check()


@pytest.mark.parametrize("name", [name for name in TEXT_TEMPLATES if _variables(name)])
def test_a_missing_variable_is_bad_input_with_jinja2s_message(workspace: Path, name: str) -> None:
    _precompiled(workspace, name)
    with pytest.raises(BadInput) as fast:
        rendering.render(name, workspace=workspace)
    with pytest.raises(BadInput) as slow:
        rendering.render(name)  # no workspace: no cache folder, jinja2 alone
    assert fast.value.message == slow.value.message
    assert fast.value.message.startswith(f"template {name}: ")


def test_a_one_shot_iterator_is_left_whole_for_jinja2(workspace: Path) -> None:
    name = "journal-evidence.md.j2"
    _precompiled(workspace, name)
    context = {
        "at": "2026-06-13T13:44Z",
        "record": {"milestone": "M1", "probe": "P1", "result": "PASS"},
        "title": "t",
        "comment": "<!-- c -->",
        "fence": "```",
    }
    expected = _jinja2(name, {**context, "lines": ["a", "b"]})
    with pytest.raises(runtime._NotReplayable):  # refused before an item is taken
        _entry_for(workspace, name).render({**context, "lines": iter(["a", "b"])})
    assert rendering.render(name, workspace=workspace, lines=iter(["a", "b"]), **context) == expected
    del context["fence"]
    with pytest.raises(BadInput, match="'fence' is undefined"):
        rendering.render(name, workspace=workspace, lines=iter(["a"]), **context)


# --- a fresh form does not import jinja2 ---------------------------------------------------------------

_SCRIPT = """
import sys
from pathlib import Path
from loopkit.render import render
text = render(
    "journal-evidence.md.j2",
    workspace=Path(sys.argv[1]),
    at="2026-06-13T13:44Z",
    record={"milestone": "M1", "probe": "P1", "result": "PASS"},
    title="version answers 200",
    comment="<!-- loopkit:probe {} -->",
    fence="```",
    lines=["$ printf 200", "→ 200 ✓ PASS"],
)
sys.stdout.write(repr(("jinja2" in sys.modules, text)))
"""


def _run(workspace: Path) -> tuple[bool, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COV_CORE")}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(workspace)], capture_output=True, text=True, check=True, env=env
    )
    imported, text = eval(done.stdout)
    return imported, text


def test_a_fresh_precompiled_render_does_not_import_jinja2(tmp_path: Path) -> None:
    workspace = _git_repo(tmp_path / "repo")
    cold = _run(workspace)
    assert cold[0] is True  # the first render compiles through jinja2 and stores the form
    warm = _run(workspace)
    assert warm == (False, cold[1])
    assert any(_cache(workspace).glob("text-journal-evidence.md.j2-*.precompiled"))


# --- staleness ----------------------------------------------------------------------------------------


def test_an_override_edited_within_its_mtime_shows_at_once(tmp_path: Path) -> None:
    workspace = _git_repo(tmp_path / "repo")
    override = workspace / rendering.OVERRIDE_DIR / "journal-entry.md.j2"
    package = rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="")
    assert _entry(workspace, "journal-entry.md.j2") is not None

    override.parent.mkdir()
    override.write_text("one {{ title }}\n", encoding="utf-8")
    assert (
        rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="") == "one T\n"
    )
    entry = _entry(workspace, "journal-entry.md.j2")
    assert entry is not None and entry.root is not None  # the next render is the precompiled one
    assert (
        rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="") == "one T\n"
    )

    before = override.stat()
    override.write_text("two {{ title }}\n", encoding="utf-8")  # same size
    os.utime(override, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert override.stat().st_mtime_ns == before.st_mtime_ns and override.stat().st_size == before.st_size
    assert (
        rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="") == "two T\n"
    )
    assert (
        rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="") == "two T\n"
    )

    override.unlink()
    assert rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="") == package
    assert rendering.render("journal-entry.md.j2", workspace=workspace, at="A", title="T", body="") == package


def test_an_override_outside_the_whitelist_goes_through_jinja2(tmp_path: Path) -> None:
    workspace = _git_repo(tmp_path / "repo")
    override = workspace / rendering.OVERRIDE_DIR / "journal-entry.md.j2"
    override.parent.mkdir()
    override.write_text("{% for c in title %}{{ loop.index }}{{ c }}{% endfor %}\n.\n", encoding="utf-8")
    for _ in range(2):
        assert rendering.render("journal-entry.md.j2", workspace=workspace, title="ab") == "1a2b.\n"
    entry = _entry(workspace, "journal-entry.md.j2")
    assert entry is not None and entry.root is None  # fresh, and never precompiled


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "empty"])
def test_a_corrupt_entry_falls_back_and_is_rewritten(tmp_path: Path, damage: str) -> None:
    workspace = _git_repo(tmp_path / "repo")
    args: dict[str, Any] = {"at": "A", "title": "T", "body": "a body\n{{ not a tag }}"}
    expected = _jinja2("journal-entry.md.j2", args)
    assert rendering.render("journal-entry.md.j2", workspace=workspace, **args) == expected
    (path,) = _cache(workspace).glob("text-journal-entry.md.j2-*.precompiled")
    data = path.read_bytes()
    damaged = {
        "garbage": b"\x00not marshal at all\xff" * 3,
        "truncated": data[: len(data) // 2],
        "flipped": data[:-40] + bytes([data[-40] ^ 0xFF]) + data[-39:],
        "empty": b"",
    }[damage]
    path.write_bytes(damaged)
    assert _entry(workspace, "journal-entry.md.j2") is None
    assert rendering.render("journal-entry.md.j2", workspace=workspace, **args) == expected
    assert path.read_bytes() == data  # rewritten by the fallback
    assert rendering.render("journal-entry.md.j2", workspace=workspace, **args) == expected


def test_an_entry_from_another_installation_is_stale(tmp_path: Path) -> None:
    workspace = _git_repo(tmp_path / "repo")
    rendering.render("inbox.md.j2", workspace=workspace, role="builder")
    stamp = precompiled.stamp(rendering.__file__)
    assert stamp is not None
    other = (*stamp[:-1], ((str(TEMPLATES / "x"), 1, 1),))  # say, another jinja2 or loopkit
    kwargs: dict[str, Any] = {
        "override": workspace / rendering.OVERRIDE_DIR,
        "package": TEMPLATES,
        "filters": {"oneline": rendering.oneline},
    }
    assert precompiled.load(_cache(workspace), "inbox.md.j2", stamp=stamp, **kwargs) is not None
    assert precompiled.load(_cache(workspace), "inbox.md.j2", stamp=other, **kwargs) is None
