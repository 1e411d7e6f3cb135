"""redact_obj's joined search is pinned to redacting every string on its own (_redact_each)."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote, quote_plus

from hypothesis import example, given, settings
from hypothesis import strategies as st

from loopkit.redact import REDACTED, Redactor

ALNUM36 = "A1b2C3d4E5" * 3 + "f6G7h8"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KELVIN = "\u212a"  # lowercases to ASCII k
# Pieces of every rule, whole and cut in two, so that joins and string edges fall inside them.
TOKENS = [
    "ghp_" + ALNUM36, "gho_" + ALNUM36 + "ghs_" + ALNUM36, "ghp_", ALNUM36,
    "github_pat_11ABCDEFG0123456789_abcdefghij", "github_pat_",
    "glpat-abcdefghij0123456789_-", "glpat-",
    "AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPL", "AKIA",
    f"aws_secret_access_key = {AWS_SECRET}", f'"SecretAccessKey": "{AWS_SECRET}"',
    "SECRET_ACCESS_KEY=", AWS_SECRET, "secret",
    "xoxb-1234567890-abcdefghij", "xoxp-", "https://hooks.slack.com/services/T0000/B0000/XXXX",
    "https://hooks.slack.com/services/",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP", "eyJhbGciOiJIUzI1NiJ9.eyJ", "eyJ",
    "https://alice:pa55@example.com/r", "postgres://app:hunt@r2@db", "://", "x://", "@",
    "Authorization: Bearer abc", "'Authorization: Bearer tok'", '"Cookie": "a=b"',
    '"Set-Cookie":', "cookie: sid=42", "Proxy-Authorization:", "authorization", "COOKIE",
    f"Coo{KELVIN}ie: sid=1", "Authorİzation: x", "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----", "-----BEGIN PGP PRIVATE KEY BLOCK-----", "-----END ",
    "PRIVATE KEY-----", "-----", "-----BEGIN", "PRIVATE KEY-----BEGIN", REDACTED, "[RED", "ACTED]", "D]",
    "internal-1234", "session=abc", "word", "end", "x",
    "curl -u a:b", "curl", " -u ", " --user=", "'p w'", "PuTTY-User-Key-File-3: ssh-ed25519",
    "Private-Lines: 1", "Private-MAC: ab12", "xapp-1-ABCDEFGHIJ", "glrt-abcdefghijABCDEFGHIJ",
    "\n", "\r\n", "\r", " ", "\t", "'", '"', ":", "=", "/", "\\", "İ", "Σ", "ΑΣ", "σ", KELVIN, "",
]  # fmt: skip
SECRET_NAMES = ["GITHUB_TOKEN", "DEPLOY_SECRET", "DB_PASSWORD", "API_KEY", "BASIC_AUTH"]
PUBLIC_NAMES = ["GIT_AUTHOR_NAME", "HOME"]
VALUES = st.one_of(
    st.sampled_from(["s3cr3t-deploy", 'p@ss"w/rd! 9', "line one\nline two", "Σίσυφος-κλειδί",
                     "ghp_" + ALNUM36, "REDACTED", "abc12", "cookie-monster", "x\ny\nz-value"]),
    st.text(min_size=6, max_size=14),
)  # fmt: skip
# Anchors and lookarounds that read differently in a joined text, an empty match, an
# unmatched group, a match across a newline.
EXTRAS = [
    r"^internal-\d+", r"\d{4}$", r"\Asession", r"end\Z", r"(?m)^x", r"(?<!a)word",
    r"\bword\b", r"x*", r"(a)|b", r"(?s)d.e", r"session=(\w+)", r"(?i)İ",
]  # fmt: skip


def _forms(value: str) -> list[str]:
    return [
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe="", errors="surrogateescape"),
        quote_plus(value, safe="", errors="surrogateescape"),
    ]


# Built once (hypothesis caches a strategy's internals per object): the secret forms of the
# environment drawn for an example are placeholders until `_resolve` swaps them in.
FORM_SLOTS = [chr(0xF0000 + k) for k in range(12)]
_FRAGMENT = st.one_of(st.sampled_from(TOKENS + FORM_SLOTS), st.text(max_size=6))
_STRINGS = st.lists(_FRAGMENT, max_size=8).map("".join)
_LEAVES = st.one_of(_STRINGS, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False))
OBJECTS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(st.one_of(_STRINGS, st.sampled_from(SECRET_NAMES)), inner, max_size=5),
    ),
    max_leaves=30,
)


def _resolve(obj: Any, forms: list[str]) -> Any:
    def fill(text: str) -> str:
        for k, slot in enumerate(FORM_SLOTS):
            text = text.replace(slot, forms[k % len(forms)] if forms else "")
        return text

    if isinstance(obj, str):
        return fill(obj)
    if isinstance(obj, dict):
        return {fill(key): _resolve(value, forms) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_resolve(item, forms) for item in obj]
    if isinstance(obj, tuple):
        return tuple(_resolve(item, forms) for item in obj)
    return obj


@st.composite
def cases(draw: st.DrawFn) -> tuple[Redactor, Any]:
    names = draw(st.lists(st.sampled_from(SECRET_NAMES + PUBLIC_NAMES), unique=True, max_size=4))
    environ = {name: draw(VALUES) for name in names}
    extras = draw(st.lists(st.sampled_from(EXTRAS), unique=True, max_size=2))
    forms = [form for value in environ.values() for form in _forms(value)]
    return Redactor(environ=environ, extra_patterns=extras), _resolve(draw(OBJECTS), forms)


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for value in obj.values() for s in _strings(value)]
    if isinstance(obj, list | tuple):
        return [s for item in obj for s in _strings(item)]
    return []


def _check(redactor: Redactor, obj: Any) -> None:
    before = copy.deepcopy(obj)
    strings = _strings(obj)
    suspects = redactor._suspects(strings)
    # The claim the shortcut rests on: every string that has a span is a suspect.
    assert {i for i, s in enumerate(strings) if redactor._spans(s)} <= suspects
    out = redactor.redact_obj(obj)
    assert out == redactor._redact_each(obj)
    assert json.dumps(out) == json.dumps(redactor._redact_each(obj))
    assert obj == before  # the input is never modified


@settings(deadline=None, max_examples=600)
@given(case=cases())
def test_redact_obj_equals_redacting_each_string(case: tuple[Redactor, Any]) -> None:
    _check(*case)


EDGES = Redactor(environ={"API_TOKEN": "line one\nline two"}, extra_patterns=[r"^x$", r"\Aend"])


@settings(deadline=None, max_examples=300)
@given(strings=st.lists(st.lists(st.sampled_from(TOKENS), max_size=4).map("".join), max_size=6))
# a string starting with `://` after one ending in a letter; a token cut by the join
@example(strings=["a", "://u:p@h"])
@example(strings=["ghp_", ALNUM36])
# İ grows when lowered: the header gate is then asked of each string
@example(strings=["İ" * 30, "Cookie: sid=42", "tail"])
@example(strings=["x", "y x", "end", "line one", "line two"])
# joined by a space, the first string's marker would swallow the start of the second's
@example(strings=["-----BEGIN", "PRIVATE KEY-----BEGIN PRIVATE KEY-----"])
@example(strings=["'Authorization: a", "'"])
@example(strings=[f"aws_secret_access_key={AWS_SECRET}", "A"])
def test_edges_of_the_joined_text(strings: list[str]) -> None:
    _check(EDGES, strings)
    _check(EDGES, {"k": tuple(strings), "nested": [{"v": s} for s in strings]})


def test_nothing_to_redact_returns_the_object_itself() -> None:
    doc = {"phases": [{"id": "p1", "title": "plain", "n": 3}], "ok": True}
    assert Redactor(environ={"HOME": "/home/alice"}).redact_obj(doc) is doc


def test_only_changed_containers_are_copied() -> None:
    redactor = Redactor(environ={"DEPLOY_SECRET": "s3cr3t-deploy"})
    kept = {"title": "plain"}
    doc = {"a": kept, "b": ["x", "run s3cr3t-deploy"], "ghp_" + ALNUM36: "keys stay"}
    out = redactor.redact_obj(doc)
    assert out == {"a": kept, "b": ["x", f"run {REDACTED}"], "ghp_" + ALNUM36: "keys stay"}
    assert out["a"] is kept
    assert doc["b"] == ["x", "run s3cr3t-deploy"]
