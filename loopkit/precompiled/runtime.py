"""What jinja2's generated code needs, for the whitelisted constructs only; never imports jinja2."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

if TYPE_CHECKING:
    pass

# --- the runtime: what jinja2's generated code needs, for the whitelisted constructs only ---------


class _UndefinedUse(Exception):
    """Raised by any use of an undefined value; the caller re-renders through jinja2 for its message."""


class _NotReplayable(Exception):
    """A one-shot iterator: iterating it here would leave jinja2 nothing to render on a fallback."""


class _Undefined:
    """StrictUndefined's contract, minus the message: every use raises, only `is defined` is False.

    Raising where jinja2 raises is all that exactness needs: any exception sends the call to jinja2.
    """

    __slots__ = ()

    def __init__(
        self, hint: object = None, obj: object = None, name: object = None, exc: object = None
    ) -> None:
        pass

    def _fail(self, *args: object, **kwargs: object) -> NoReturn:
        raise _UndefinedUse

    def __getattr__(self, name: str) -> NoReturn:
        raise _UndefinedUse

    def __repr__(self) -> str:  # jinja2's, which StrictUndefined keeps: a list's str() shows it
        return "Undefined"

    __str__ = __format__ = __bool__ = __len__ = __iter__ = __contains__ = _fail
    __eq__ = __ne__ = __hash__ = __lt__ = __le__ = __gt__ = __ge__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _fail
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __pow__ = __rpow__ = _fail
    __pos__ = __neg__ = __invert__ = __call__ = __getitem__ = _fail
    __int__ = __float__ = __complex__ = __index__ = __round__ = _fail


class _Missing:
    __slots__ = ()


MISSING = _Missing()


def _is_undefined(value: object) -> bool:
    if isinstance(value, _Undefined):
        return True
    # a caller's value can be a jinja2 Undefined only if jinja2 is loaded in this process
    runtime = sys.modules.get("jinja2.runtime")
    return runtime is not None and isinstance(value, runtime.Undefined)


def _replayable(value: Any) -> Any:
    if iter(value) is value:
        raise _NotReplayable
    return value


def _soft_str(value: object) -> str:  # markupsafe.soft_str
    return value if isinstance(value, str) else str(value)


def _upper(value: object) -> str:
    return _soft_str(value).upper()


def _lower(value: object) -> str:
    return _soft_str(value).lower()


def _capitalize(value: object) -> str:
    return _soft_str(value).capitalize()


def _join(eval_ctx: object, value: Any, d: object = "") -> str:
    # jinja2's sync_do_join without attribute= (adapt refuses it), autoescape off
    return str(d).join(map(str, _replayable(value)))


def _test_defined(value: object) -> bool:
    return not _is_undefined(value)


def _test_undefined(value: object) -> bool:
    return _is_undefined(value)


def _test_none(value: object) -> bool:
    return value is None


class Shape(NamedTuple):
    """How jinja2 calls a filter: with the eval context first or not, and how many arguments."""

    eval_ctx: bool
    max_args: int  # positional, the value included


# name → (our implementation, how it is called, the jinja2 object it copies: render.py checks identity)
FILTERS: dict[str, tuple[Callable[..., Any], Shape, str]] = {
    "upper": (_upper, Shape(eval_ctx=False, max_args=1), "filters.do_upper"),
    "lower": (_lower, Shape(eval_ctx=False, max_args=1), "filters.do_lower"),
    "capitalize": (_capitalize, Shape(eval_ctx=False, max_args=1), "filters.do_capitalize"),
    "join": (_join, Shape(eval_ctx=True, max_args=2), "filters.do_join"),
}
TESTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "defined": (_test_defined, "tests.test_defined"),
    "undefined": (_test_undefined, "tests.test_undefined"),
    "none": (_test_none, "tests.test_none"),
}


def _str_join(seq: Any) -> str:
    return "".join(map(str, seq))


class _Environment:
    """jinja2.Environment's getattr and getitem, copied; its filters and tests, whitelisted."""

    undefined = _Undefined
    concat = "".join

    def __init__(self, filters: Mapping[str, Callable[..., Any]]) -> None:
        self.filters = {name: impl for name, (impl, _, _) in FILTERS.items()} | dict(filters)
        self.tests = {name: impl for name, (impl, _) in TESTS.items()}

    def getitem(self, obj: Any, argument: Any) -> Any:
        try:
            return obj[argument]
        except (AttributeError, TypeError, LookupError):
            if isinstance(argument, str):
                try:
                    attr = str(argument)
                except Exception:
                    pass
                else:
                    try:
                        return getattr(obj, attr)
                    except AttributeError:
                        pass
            return self.undefined(obj=obj, name=argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        try:
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)


class _EvalContext:
    __slots__ = ()
    autoescape = False
    volatile = False


class _Context:
    __slots__ = ("vars",)
    eval_ctx = _EvalContext()

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.vars = variables

    def resolve_or_missing(self, key: str) -> Any:
        # jinja2 looks in the globals next; adapt refuses templates that name one
        return self.vars.get(key, MISSING)


Root = Callable[[_Context], Iterator[str]]


class Entry(NamedTuple):
    """A fresh entry; `root` is None for a template that is never precompiled (jinja2 renders it)."""

    root: Root | None

    def render(self, context: Mapping[str, Any]) -> str:
        assert self.root is not None
        return "".join(self.root(_Context(context)))


def runtime_globals(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Any]:
    """The names an adapted template's code may use, and nothing else (no builtins but `str`)."""
    return {
        "__builtins__": {"str": str},
        "environment": _Environment(filters),
        "missing": MISSING,
        "Undefined": _Undefined,
        "str_join": _str_join,
        "_replayable": _replayable,
    }
