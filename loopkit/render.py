"""The only jinja2 user. Every word loopkit writes comes from a template in templates/; a workspace
may override any of them with a file of the same name in its `loopkit-templates/` folder.

A text template whose precompiled form in .git/loopkit/jinja is fresh renders without importing
jinja2 (precompiled.py); otherwise, and on any failure of that form, jinja2 renders it.
"""

from __future__ import annotations

import contextlib
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopkit import precompiled
from loopkit.errors import BadInput

if TYPE_CHECKING:
    from jinja2 import Environment

OVERRIDE_DIR = "loopkit-templates"
_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """templates/ or phases/: inside the wheel under _data/, beside the package in a checkout."""
    installed = _PACKAGE / "_data" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def oneline(text: str) -> str:
    """Titles, notes and subjects live on one line: runs of white space become one space."""
    return re.sub(r"\s+", " ", text).strip()


def _cache_dir(workspace: Path | None) -> Path | None:
    """Compiled templates are kept in .git/loopkit/jinja: compiling them costs every call ~50 ms."""
    if workspace is None:
        return None
    for folder in (workspace, *workspace.parents):
        if (folder / ".git").is_dir():
            target = folder / ".git" / "loopkit" / "jinja"
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError:
                return None
            return target
    return None


@cache
def _environment(override: Path | None, cache_dir: Path | None = None, *, html: bool = False) -> Environment:
    from jinja2 import ChoiceLoader, Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined

    # the override folder is asked on every load, so one that appears later is seen as
    # precompiled.locate sees it
    loaders = [FileSystemLoader(str(override))] if override is not None else []
    loaders.append(FileSystemLoader(str(data_dir("templates"))))
    env = Environment(
        loader=ChoiceLoader(loaders),
        # jinja2's in-memory cache trusts mtimes, the precompiled form compares bytes: with a
        # cache folder, templates are read again on every render (its bytecode cache is keyed by
        # content) so an edit within the same mtime cannot make the two paths disagree
        cache_size=0 if cache_dir is not None else 400,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=FileSystemBytecodeCache(str(cache_dir)) if cache_dir is not None else None,
    )
    env.filters["oneline"] = oneline
    return env


def render(name: str, *, workspace: Path | None = None, **context: Any) -> str:
    override = workspace / OVERRIDE_DIR if workspace is not None else None
    cache_dir = _cache_dir(workspace)
    stamp = precompiled.stamp(__file__) if cache_dir is not None else None
    entry = None
    if cache_dir is not None and stamp is not None:
        entry = precompiled.load(
            cache_dir,
            name,
            override=override,
            package=data_dir("templates"),
            stamp=stamp,
            filters={"oneline": oneline},
        )
        if entry is not None and entry.root is not None:
            # any failure (an undefined value among them): jinja2 renders it, or says what is wrong
            with contextlib.suppress(Exception):
                return entry.render(context)

    from jinja2 import TemplateError

    env = _environment(override, cache_dir)
    try:
        text = env.get_template(name).render(**context)
    except TemplateError as exc:
        raise BadInput(f"template {name}: {exc}") from None
    if cache_dir is not None and stamp is not None and entry is None:
        _precompile(env, name, override=override, cache_dir=cache_dir, stamp=stamp)
    return text


def _precompile(
    env: Environment, name: str, *, override: Path | None, cache_dir: Path, stamp: tuple[object, ...]
) -> None:
    """Store jinja2's generated code for this template, if it runs on precompiled's runtime."""
    import jinja2
    from jinja2 import TemplateError

    source = precompiled.locate(name, override=override, package=data_dir("templates"))
    if source is None or env.loader is None:
        return
    try:
        text, filename, _ = env.loader.get_source(env, name)
        # the bytes we record must be the text jinja2 read: an edit in between stores nothing
        if filename != source.path or text != source.text():
            return
        generated = env.compile(text, name, filename, raw=True)
    except (TemplateError, OSError, UnicodeDecodeError):
        return
    # only the filters and tests whose jinja2 implementation is the very one the runtime copies
    filters = {
        fname: shape
        for fname, (_, shape, origin) in precompiled.FILTERS.items()
        if env.filters.get(fname) is _jinja_object(jinja2, origin)
    }
    if env.filters.get("oneline") is oneline:
        filters["oneline"] = precompiled.Shape(eval_ctx=False, max_args=1)
    tests = frozenset(
        tname
        for tname, (_, origin) in precompiled.TESTS.items()
        if env.tests.get(tname) is _jinja_object(jinja2, origin)
    )
    code = precompiled.adapt(generated, filters=filters, tests=tests, globals_=frozenset(env.globals))
    precompiled.store(cache_dir, name, override=override, source=source, stamp=stamp, code=code)


def _jinja_object(jinja2: Any, dotted: str) -> object:
    module, _, attribute = dotted.partition(".")
    return getattr(getattr(jinja2, module), attribute)


def render_html(name: str, *, cache_from: Path | None = None, **context: Any) -> str:
    """An HTML page with autoescaping on: every value is text, never markup.

    Only loopkit's own templates: a workspace's loopkit-templates/ could put a script into a page
    people open, so HTML templates cannot be overridden from the repository.
    """
    from jinja2 import TemplateError

    cache_dir = _cache_dir(cache_from)
    if cache_dir is not None:  # compiled with autoescape: never shared with the text templates' cache
        cache_dir = cache_dir / "html"
        cache_dir.mkdir(exist_ok=True)
    try:
        return _environment(None, cache_dir, html=True).get_template(name).render(**context)
    except TemplateError as exc:
        raise BadInput(f"template {name}: {exc}") from None
