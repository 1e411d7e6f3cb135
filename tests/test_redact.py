"""Redaction: every shape SPEC names becomes [REDACTED], idempotently, and never raises."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from loopkit.errors import BadInput
from loopkit.redact import REDACTED, Redactor, from_environ, is_secret_name

GHP = "ghp_" + "A1b2C3d4E5" * 4  # 40 alnum after the prefix
ENV = {
    "GITHUB_TOKEN": GHP,
    "DEPLOY_SECRET": "s3cr3t-deploy-value",
    "DB_PASSWORD": 'p@ss"w/rd! 9',
    "MY_PASSWD": "passwd-value-1",
    "STRIPE_API_KEY": "sk_live_abcdef123",
    "GCP_CREDENTIALS": "credential-blob-42",
    "BASIC_AUTH": "user:auth-pair",
    "GIT_AUTHOR_NAME": "Alice Author",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
    "SHORT_TOKEN": "abc12",
    "HOME": "/home/alice-home",
}
EXTRA = (r"internal-[0-9]{4,}", r"session=(\w+)")

PUTTY = (
    "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: me@host\nPublic-Lines: 2\n"
    "AAAAC3NzaC1lZDI1NTE5AAAAIN\nAAAApublic\nPrivate-Lines: 1\nBBBBbbbbprivate0123\n"
    "Private-MAC: 0123456789abcdef0123456789abcdef"
)
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    # Module scope: a Redactor holds no state between calls, and hypothesis tests reuse it.
    return Redactor(environ=ENV, extra_patterns=EXTRA)


# (text, what must vanish, exact expected output or None when only the secret matters)
SHAPES: list[tuple[str, str, str | None]] = [
    (
        "git clone https://alice:pa55word@example.com/r.git",
        "alice:pa55word",
        "git clone https://[REDACTED]@example.com/r.git",
    ),
    (
        "postgres://app:hunt@r2@db:5432/app",
        "hunt@r2",
        "postgres://[REDACTED]@db:5432/app",
    ),
    ("> Authorization: Bearer abc.def.ghi\n< 200", "abc.def", "> Authorization: [REDACTED]\n< 200"),
    ("cookie: sid=42; theme=dark", "sid=42", "cookie: [REDACTED]"),
    ("Set-Cookie: sid=42; Path=/\r\nnext", "sid=42", "Set-Cookie: [REDACTED]\r\nnext"),
    (
        "curl -s -H 'Authorization: Bearer tok-123' https://api.example.com/v1",
        "tok-123",
        "curl -s -H 'Authorization: [REDACTED]' https://api.example.com/v1",
    ),
    (
        "curl -H \"Cookie: a='b'\" -H 'Set-Cookie: x=1' https://h",
        "a='b'",
        "curl -H \"Cookie: [REDACTED]\" -H 'Set-Cookie: [REDACTED]' https://h",
    ),
    (
        '{"Authorization": "Basic dXNlcg==", "n": 1}',
        "dXNlcg",
        '{"Authorization": "[REDACTED]", "n": 1}',
    ),
    (
        f"key:\n-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\nafter",
        "MIIEvQ",
        "key:\n[REDACTED]\nafter",
    ),
    (f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}", "MIIEvQ", REDACTED),
    (
        f"…excerpt starts inside\n{PEM_BODY}\n-----END PRIVATE KEY-----\nok",
        "BKcwgg",
        "[REDACTED]\nok",
    ),
    (f"token {GHP.replace('ghp_', 'gho_')} end", "A1b2C3", "token [REDACTED] end"),
    ("ghu_" + "x" * 36, "xxxx", REDACTED),
    ("ghs_" + "Y" * 40, "YYYY", REDACTED),
    ("ghr_" + "9" * 36, "9999", REDACTED),
    ("pat=github_pat_11ABCDEFG0123456789_abcdefghijKLMNOP", "11ABCDEFG", "pat=[REDACTED]"),
    ("GITLAB=glpat-abcdefghij0123456789_-", "abcdefghij", "GITLAB=[REDACTED]"),
    ("id AKIAIOSFODNN7EXAMPLE here", "IOSFODNN", "id [REDACTED] here"),
    ("ASIAIOSFODNN7EXAMPLE", "IOSFODNN", REDACTED),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUt",
        "aws_secret_access_key = [REDACTED]",
    ),
    (
        '"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
        "wJalrXUt",
        '"SecretAccessKey": "[REDACTED]"',
    ),
    ("slack xoxb-1234567890-abcdefghij", "1234567890", "slack [REDACTED]"),
    (
        "POST https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
        "T0000/B0000",
        "POST https://hooks.slack.com/services/[REDACTED]",
    ),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "eyJzdWIi",
        "jwt [REDACTED]",
    ),
    # shapes added by issue 24, item 3
    ("curl -s -u alice:pa55word https://h/x", "pa55word", "curl -s -u [REDACTED] https://h/x"),
    ("curl --user alice:pa55word https://h", "pa55word", "curl --user [REDACTED] https://h"),
    ("curl --user=alice:pa55word https://h", "pa55word", "curl --user=[REDACTED] https://h"),
    ("curl -H 'X: 1' -su'al ice:pa ss' h", "pa ss", "curl -H 'X: 1' -su[REDACTED] h"),
    ("curl -u 'al:p w'\"'\"'x' h", "p w", "curl -u [REDACTED] h"),
    (PUTTY + "\nafter", "BBBBbbbb", "[REDACTED]\nafter"),
    (PUTTY[PUTTY.index("Private-Lines") :], "BBBBbbbb", REDACTED),  # an excerpt from inside the key
    ("slack xapp-1-A0123456789-1234567890123-abcdef", "A0123456789", "slack [REDACTED]"),
    ("runner glrt-t1_abcdefghijABCDEFGHIJ12", "abcdefghij", "runner [REDACTED]"),
    ("deploy gldt-abcdefghijABCDEFGHIJ ok", "abcdefghij", "deploy [REDACTED] ok"),
    ("internal-123456 in logs", "123456", "[REDACTED] in logs"),
    ("GET /?session=abcdef99&x=1", "abcdef99", "GET /?session=[REDACTED]&x=1"),
]


@pytest.mark.parametrize(("text", "secret", "expected"), SHAPES)
def test_every_shape_is_redacted(redactor: Redactor, text: str, secret: str, expected: str | None) -> None:
    out = redactor.redact(text)
    assert secret not in out
    assert REDACTED in out
    if expected is not None:
        assert out == expected
    assert redactor.redact(out) == out


@pytest.mark.parametrize(
    "text",
    [
        "plain prose with no secrets: 200 OK",
        "ghp_tooshort123",
        "AKIA1234",
        "https://example.com/path?email=a@b.c",
        "eyJ alone is not a token",
        "a KEY is fine in prose, so is auth",
        "sort -u a:b; docker run -u 1000:1000 img",  # -u of commands other than curl
        "curl --user-agent x/1 https://h",
        "xapp-short",
    ],
)
def test_innocent_text_is_untouched(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


@pytest.mark.parametrize(
    "name",
    ["GITHUB_TOKEN", "DEPLOY_SECRET", "DB_PASSWORD", "MY_PASSWD", "STRIPE_API_KEY",
     "GCP_CREDENTIALS", "BASIC_AUTH"],
)  # fmt: skip
def test_secret_env_values_are_redacted(redactor: Redactor, name: str) -> None:
    value = ENV[name]
    out = redactor.redact(f"before {value} after")
    assert value not in out
    assert out == f"before {REDACTED} after"


def test_public_short_and_innocent_variables_are_kept(redactor: Redactor) -> None:
    text = "by Alice Author <alice@example.com> abc12 in /home/alice-home"
    assert redactor.redact(text) == text
    assert not is_secret_name("GIT_AUTHOR_NAME")
    assert not is_secret_name("git_committer_date")
    assert is_secret_name("npm_token")


def test_longest_value_wins_when_values_overlap() -> None:
    redactor = Redactor(environ={"A_TOKEN": "abcdef", "B_TOKEN": "abcdefghij"})
    assert redactor.redact("x abcdefghij y") == f"x {REDACTED} y"
    # Overlapping occurrences merge into one marker and leave no character behind; touching
    # ones stay two markers.
    overlapping = Redactor(environ={"A_TOKEN": "abcdefgh", "B_TOKEN": "fghijklm"})
    assert overlapping.redact("abcdefghijklm") == REDACTED
    assert redactor.redact("abcdefabcdefghij") == REDACTED * 2


def test_json_and_url_forms_of_a_value_are_redacted(redactor: Redactor) -> None:
    value = ENV["DB_PASSWORD"]
    for form in (json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)):
        assert redactor.leaks(f"x{form}y") == ["DB_PASSWORD"]
        assert redactor.redact(f"x{form}y") == f"x{REDACTED}y"


def test_leaks_names_never_values_and_check_refuses(redactor: Redactor) -> None:
    text = f"oops {ENV['DEPLOY_SECRET']} and {ENV['GITHUB_TOKEN']}"
    assert redactor.leaks(text) == ["DEPLOY_SECRET", "GITHUB_TOKEN"]
    with pytest.raises(BadInput) as info:
        redactor.check(text)
    message = info.value.message
    assert message.startswith("refusing to write: text still holds the value of $DEPLOY_SECRET")
    assert ENV["DEPLOY_SECRET"] not in message
    assert ENV["GITHUB_TOKEN"] not in message
    redactor.check(redactor.redact(text))


def test_a_placeholder_value_does_not_make_markers_unwritable() -> None:
    redactor = Redactor(environ={"API_TOKEN": "REDACTED"})
    out = redactor.redact("token REDACTED and [REDACTED]")
    assert out == f"token {REDACTED} and {REDACTED}"
    redactor.check(out)


def test_bad_extra_pattern_is_named() -> None:
    with pytest.raises(BadInput, match=r"\(unclosed"):
        Redactor(environ={}, extra_patterns=["ok", "(unclosed"])


def test_redact_obj_walks_json_like_values(redactor: Redactor) -> None:
    secret = ENV["DEPLOY_SECRET"]
    data = {
        "command": f"deploy {secret}",
        secret: "keys are left alone",
        "list": [1, None, True, f"x {GHP}", ("t", secret)],
        "nested": {"deep": [{"v": secret}]},
    }
    out = redactor.redact_obj(data)
    assert out == {
        "command": f"deploy {REDACTED}",
        secret: "keys are left alone",
        "list": [1, None, True, f"x {REDACTED}", ("t", REDACTED)],
        "nested": {"deep": [{"v": REDACTED}]},
    }
    assert data["command"] == f"deploy {secret}"  # the input is not modified


def test_from_environ_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKIT_TEST_TOKEN", "from-the-environment")
    assert from_environ().redact("x from-the-environment") == f"x {REDACTED}"
    assert from_environ(["x"]).redact("x") == REDACTED


def test_a_megabyte_is_handled(redactor: Redactor) -> None:
    # No timing assertion (machines differ); this guards against pathological slowness only.
    line = f"GET https://example.com/a?b=c 200 Authorization: none {ENV['DEPLOY_SECRET']}\n"
    text = line * (1_000_000 // len(line))
    out = redactor.redact(text)
    assert ENV["DEPLOY_SECRET"] not in out
    assert redactor.leaks(out) == []


# Fragments that make the rules interact: markers, half markers, prefixes and separators.
FRAGMENTS = st.sampled_from(
    [REDACTED, "[", "]", "[RED", "ACTED]", "D]", "://", "@", "/", " ", "\n", "\r\n", "'", '"',
     ":", "Authorization: ", "cookie:", "Set-Cookie", "-----BEGIN PRIVATE KEY-----",
     "-----END PRIVATE KEY-----", "ghp_", "A1b2C3d4E5" * 4, "eyJ", ".", "AKIA", "glpat-",
     "xoxb-", "aws_secret_access_key=", "session=", "internal-1234", *ENV.values()]
)  # fmt: skip
TEXTS = st.lists(st.one_of(FRAGMENTS, st.text(max_size=12)), max_size=25).map("".join)


@settings(deadline=None, max_examples=300)
@given(text=st.one_of(st.text(), TEXTS))
def test_redact_never_raises_and_is_idempotent(redactor: Redactor, text: str) -> None:
    once = redactor.redact(text)
    assert redactor.redact(once) == once
    assert redactor.leaks(once) == []


# Lone surrogates have no URL form to embed; NUL cannot be in an environment value.
SECRET_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")


@settings(deadline=None, max_examples=300)
@given(
    secret=st.text(SECRET_CHARS, min_size=6, max_size=30),
    prefix=st.one_of(st.text(max_size=40), TEXTS),
    suffix=st.one_of(st.text(max_size=40), TEXTS),
    form=st.sampled_from(["raw", "json", "json-utf8", "url", "form"]),
)
def test_an_embedded_secret_never_survives(secret: str, prefix: str, suffix: str, form: str) -> None:
    shown = {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "json-utf8": json.dumps(secret, ensure_ascii=False)[1:-1],
        "url": quote(secret, safe=""),
        "form": quote_plus(secret),
    }[form]
    redactor = Redactor(environ={"SERVICE_TOKEN": secret, "GIT_AUTHOR_NAME": secret})
    text = prefix + shown + suffix
    assume(REDACTED not in text)
    assert redactor.leaks(text) == ["SERVICE_TOKEN"]
    out = redactor.redact(text)
    assert redactor.leaks(out) == []
    redactor.check(out)


@pytest.mark.parametrize(
    "written",
    [
        "'ab'\\''cd-ef-9'",  # inside '…', as people write it
        "'ab'\"'\"'cd-ef-9'",  # inside '…', as shlex.quote writes it
        "ab\\'cd-ef-9",  # unquoted, escaped
        '"ab\'cd-ef-9"',
    ],
)
def test_a_value_holding_a_quote_is_found_as_a_shell_script_holds_it(written: str) -> None:
    redactor = Redactor(environ={"SERVICE_TOKEN": "ab'cd-ef-9"})
    out = redactor.redact(f"sh -c 'curl -d {written} h'")
    assert "cd-ef-9" not in out and REDACTED in out
    assert redactor.leaks(out) == []


def test_a_command_is_redacted_as_written_and_argument_by_argument() -> None:
    """Redactor.redact_pieces, the way probe records are written: a key block spread over three
    arguments is found in the joined line; a value the quoting split apart in its argument."""
    from loopkit.services.probes import _quoted

    redactor = Redactor(environ={"SERVICE_TOKEN": "ab'cd-ef-9"})
    key = ["-----BEGIN OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
           "-----END OPENSSH PRIVATE KEY-----"]  # fmt: skip
    assert redactor.redact_pieces(*_quoted(["echo", *key])) == "echo '[REDACTED]'"
    assert redactor.redact_pieces(*_quoted(["echo", "ab'cd-ef-9", "ok"])) == "echo '[REDACTED]' ok"
    line = redactor.redact_pieces(*_quoted(["sh", "-c", "echo x ab'cd-ef-9 y"]))
    assert line == "sh -c 'echo x [REDACTED] y'"
    assert redactor.redact_pieces(*_quoted(["curl", "-u", "al:pw", "h"])) == "curl -u [REDACTED] h"


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("curl -H 'Authorization: Bearer $API_TOKEN' https://h", False),
        ('curl -u "$USER:$PASS" https://h', False),
        ("git clone https://deploy:${PASS}@h/r.git", False),
        ("curl -u admin:hunter2 https://h", True),
        ("curl -H 'Authorization: Bearer abc123' https://h", True),
        ("ghp_" + "a" * 36, True),
        ("echo p$ssw0rd-1", True),  # a variable's value is literal even when it looks like $NAME
        ("printf 200", False),
    ],
)
def test_literal_secrets_tells_a_written_secret_from_a_reference(text: str, literal: bool) -> None:
    assert Redactor(environ={"DB_PASSWORD": "p$ssw0rd-1"}).literal_secrets(text) is literal
