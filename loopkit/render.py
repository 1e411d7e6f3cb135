"""The only jinja2 user. Every word loopkit writes comes from a template in templates/; a workspace
may override any of them with a file of the same name in its `loopkit-templates/` folder.

jinja2 is used as it is: compiled templates are kept by its own `FileSystemBytecodeCache` in
.git/loopkit/jinja (compiling costs a command ~50 ms), and it is imported only when a template
is rendered.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    """jinja2's bytecode cache in .git/loopkit/jinja: compiling the templates costs every call ~50 ms."""
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

    # the override folder is asked on every load, so one that appears later is seen
    loaders = [FileSystemLoader(str(override))] if override is not None else []
    loaders.append(FileSystemLoader(str(data_dir("templates"))))
    env = Environment(
        loader=ChoiceLoader(loaders),
        # jinja2's in-memory cache trusts mtimes, its bytecode cache is keyed by the source's
        # checksum: with a cache folder templates are read again on every render (a long-lived
        # process such as `loopkit mcp` then sees an edit made within the same mtime)
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
    from jinja2 import TemplateError

    override = workspace / OVERRIDE_DIR if workspace is not None else None
    try:
        return _environment(override, _cache_dir(workspace)).get_template(name).render(**context)
    except TemplateError as exc:
        raise BadInput(f"template {name}: {exc}") from None


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
