"""Free-form evidence: a command someone ran and what they saw, as people and agents type it.

Precision first: evidence that is not evidence is worse than none, since a person reading `check`
would trust it. A piece of evidence needs a command-shaped left side (a line in a code block whose
first word is a command, a code span that is a command, a URL, or an HTTP method and path) and an
observed right side (a code, a result word, output). Prose arrows, state transitions
(`open` → `closed`), renames (`a.md` → `b.md`), an arrow inside one code span and diagrams in
fences are none of these. The styles read are listed in docs/formats.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from loopkit.model.journal import EvidenceKind, FreeEvidence

_CODE_HTTP = re.compile(r"\bHTTP(?:/[0-9.]+)?\s+(\d{3})\b")
_CODE_BARE = re.compile(r"^\s*((?:[1-5]\d\d|000))(?![\w/.:-])")
_FAIL = re.compile(r"[✗✘❌]|\bFAIL(?:S|ED)?\b")
_PASS = re.compile(r"[✓✔✅]")
_EXIT = re.compile(r"^\s*(?:\[?exit(?: code| status)?\]?[:=]?\s*|\$\?\s*=\s*)(\d{1,3})\s*\]?\s*$", re.I)
_RESULT_WORD = re.compile(
    r"^\s*(?P<word>pass(?:ed|es|ing)?|ok|success(?:ful)?|green|clean|fail(?:ed|s|ing|ure)?|error(?:s|ed)?|red)\b",
    re.IGNORECASE,
)
_PASS_WORDS = ("pass", "ok", "success", "green", "clean")

# Programs agents run, as the first word of a command (after `sudo`, `env`, `VAR=value`, …); words
# that are commands and common English too (`file`, `test`, `date`, `tree`) are left out for precision.
KNOWN_COMMANDS = frozenset(
    """
    ab ansible apt apt-get awk aws az bash black brew bun bundle bundler cargo cat cd chmod chown
    clang cmake composer cp curl cut deno df dig diff dmesg docker docker-compose dotnet du echo env
    eslint find flake8 gcc gem gh git go gradle grep gunicorn gzip head helm http httpie https ip
    isort java javac jest journalctl jq kill kubectl ln loopkit ls lsof make mix mkdir mocha mv mvn
    mypy mysql nc netstat nginx nix nix-build nix-shell nixos-rebuild node nohup npm npx nslookup
    openssl php pip pip3 pipx pnpm podman poetry printf prettier ps psql pylint pyright pytest
    python python3 rake redis-cli rg rm rspec rsync ruby ruff rustc rustup scp sed service sh
    sqlite3 ss ssh stat swift systemctl tail tar tee terraform timeout touch tox tsc uname unzip uv
    uvicorn vitest wc wget which xargs xcodebuild yarn yq zip zsh
    """.split()  # noqa: SIM905 - a word list reads better as words
)
_WRAPPERS = frozenset({"sudo", "env", "time", "nohup", "command", "exec", "doas"})
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")
_PROGRAM_PATH = re.compile(
    r"^(?:\.{1,2}/|~/|/(?:[\w.+-]+/)*s?bin/|(?:[\w.+-]+/)*(?:s?bin|scripts?|tools)/)[\w.+-]+$"
)
_HTTP_METHOD = re.compile(r"^(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)\s+(?:/|https?://)\S*")
_URL = re.compile(r"^https?://\S+$")
_HTTP_FIRST = frozenset("GHPDOh")  # the first letters of the methods, and of http(s)://
_DIAGRAM = re.compile(r"[\u2500-\u257f]|^\s*(?:\||\+--|`--|\\--)")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_ARROW = re.compile(r"→| -> ")
_SPAN_RESULT = re.compile(r"(`+)(?P<code>[^`\n]+?)(?<!`)\1(?!`)\s*\((?P<result>[^()\n]*)\)")
_BULLET = re.compile(r"^\s*(?:[-*+]\s+|\d{1,9}[.)]\s+)?(?P<mark>[✅❌✓✔✗✘]\uFE0F?\s*)?")
_LABEL = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\*\*|__)?"
    r"(?P<label>command|cmd|ran|run|key output|output|result|exit(?: code| status)?|observed)"
    r"(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(?P<value>.*?)\s*$",
    re.IGNORECASE,
)
_COMMAND_LABELS = ("command", "cmd", "ran", "run")


def code_of(observed: str) -> str | None:
    """An HTTP-like status code in what was observed: `HTTP 404`, `HTTP/2 200`, `200 ✓`, `000`."""
    match = _CODE_HTTP.search(observed) or _CODE_BARE.match(observed)
    return match.group(1) if match else None


def mark_of(observed: str) -> Literal["pass", "fail"] | None:
    """`fail` for ✗/✘/❌ or an upper-case FAIL word, `pass` for ✓/✔/✅; else a leading result word
    (`pass; no output`, `fail: 2`); else none."""
    if _FAIL.search(observed):
        return "fail"
    if _PASS.search(observed):
        return "pass"
    word = _RESULT_WORD.match(observed)
    if word is not None:
        return "pass" if word["word"].lower().startswith(_PASS_WORDS) else "fail"
    return None


def free(
    command: str | None,
    observed: str,
    line: int,
    *,
    code: str | None = None,
    mark: Literal["pass", "fail"] | None = None,
) -> FreeEvidence:
    observed = observed.strip()
    kind: EvidenceKind = (
        "result"
        if command is None
        else "http"
        if command[:1] in _HTTP_FIRST and is_http(command)
        else "shell"
    )
    return FreeEvidence(
        command=command,
        observed=observed,
        code=code if code is not None else code_of(observed),
        mark=mark if mark is not None else mark_of(observed),
        line=line,
        kind=kind,
    )


# -- what a command looks like ------------------------------------------------------------------
def is_http(command: str) -> bool:
    return bool(_HTTP_METHOD.match(command) or _URL.match(command))


def is_command(text: str) -> bool:
    """A command-shaped text: a known program or a path to one (after wrappers and `VAR=value`),
    a URL, or an HTTP method and path."""
    text = text.strip()
    if text.startswith("$ "):
        text = text[2:].lstrip()
    for word in text.split(None, 8)[:8]:
        if word in _WRAPPERS or _ENV.match(word):
            continue
        if word in KNOWN_COMMANDS or _PROGRAM_PATH.match(word) or is_http(text):
            return not _DIAGRAM.search(text)
        return False
    return False


def _strip_prompt(line: str) -> str:
    return line[2:].lstrip() if line.startswith("$ ") else line


def _observation(text: str) -> bool:
    """Something seen: not empty, and not only code spans (a rename or a state: `→ \\`done\\``)."""
    if "`" in text:
        text = _CODE_SPAN.sub("", text)
    return bool(text.strip(" \t.,;:()[]"))


# -- code blocks --------------------------------------------------------------------------------
def from_code(content: str, first_line: int) -> list[FreeEvidence]:
    """A code block: command lines, each followed by `→ observed` lines or by output lines (after a
    `$ ` prompt), or `command → observed` on one line. A `#` comment line ends the current command:
    an arrow after it is a result with no command. Lines that are not command-shaped (a diagram, a
    sentence) start nothing."""
    found: list[FreeEvidence] = []
    command: str | None = None
    command_line = first_line
    after_comment = False
    output: list[str] = []
    prompt = False  # the current command was typed after `$ `: its output lines are its evidence

    def flush() -> None:
        if command is not None and prompt and output:
            found.append(_shell_output(command, output, command_line))
        output.clear()

    for offset, raw in enumerate(content.split("\n")):
        line = raw.strip()
        number = first_line + offset
        if not line:
            continue
        if line.startswith("→"):
            output.clear()
            if command is not None:
                found.append(free(command, line[1:], command_line))
                prompt = False
            elif after_comment:
                found.append(free(None, line[1:], number))
            continue
        if line.startswith("#"):
            flush()
            command, prompt, after_comment = None, False, True
            continue
        if prompt and command is not None and not line.startswith("$ "):
            output.append(line)
            continue
        if line.startswith("$ ") or is_command(line):
            arrow = _ARROW.search(line)
            flush()
            after_comment = False
            if arrow is not None:
                head, tail = line[: arrow.start()].strip(), line[arrow.end() :]
                if is_command(head) and _observation(tail):
                    command, command_line, prompt = _strip_prompt(head), number, False
                    found.append(free(command, tail, number))
                    continue
            command, command_line, prompt = _strip_prompt(line), number, line.startswith("$ ")
            continue
        command, prompt, after_comment = None, False, False
    flush()
    return found


def _shell_output(command: str, output: list[str], line: int) -> FreeEvidence:
    """`$ cmd` then its output: the output is what was seen; a code from `HTTP/…` or `exit N`."""
    text = "\n".join(output)
    code = next((m.group(1) for m in map(_CODE_HTTP.search, output) if m), None)
    exit_status = next((m.group(1) for m in map(_EXIT.match, output) if m), None)
    mark = mark_of(text)
    if code is None and exit_status is not None:
        code = exit_status
        mark = mark or ("pass" if exit_status == "0" else "fail")
    return free(command, text, line, code=code, mark=mark)


# -- prose --------------------------------------------------------------------------------------
@dataclass
class _Pending:
    """A command seen in prose, waiting for the line that says what it showed."""

    command: str
    line: int


class ProseReader:
    """Prose evidence of one journal entry, fed paragraph by paragraph (label pairs such as
    `- Command: \\`npm test\\`` then `- Output: 12 passing` span two list items)."""

    def __init__(self) -> None:
        self.pending: _Pending | None = None

    def reset(self) -> None:
        self.pending = None

    def feed(self, content: str, first_line: int) -> list[FreeEvidence]:
        # plain substring tests first: most paragraphs hold no arrow, code span or label at all
        if "→" not in content and "->" not in content and "`" not in content and ":" not in content:
            self.pending = None
            return []
        found: list[FreeEvidence] = []
        for offset, line in enumerate(content.split("\n")):
            number = first_line + offset
            if ":" in line:
                label = _LABEL.match(line)
                if label is not None:
                    self._label(label["label"].lower(), label["value"], number, found)
                    continue
            self.pending = None
            if "→" in line or "->" in line or ("`" in line and "(" in line):
                one = _prose_line(line, number)
                if one is not None:
                    found.append(one)
        return found

    def _label(self, label: str, value: str, number: int, found: list[FreeEvidence]) -> None:
        if label in _COMMAND_LABELS:
            spans = _CODE_SPAN.findall(value)
            command = spans[0][1].strip() if spans else value.strip()
            shaped = bool(spans) or is_command(command)
            self.pending = _Pending(command, number) if command and shaped else None
            return
        if self.pending is None or not value.strip():
            return
        observed = _CODE_SPAN.sub(lambda m: m.group(2), value).strip()
        if label.startswith("exit") and observed.isdigit():
            found.append(
                free(
                    self.pending.command,
                    f"exit {observed}",
                    self.pending.line,
                    code=observed,
                    mark="pass" if observed == "0" else "fail",
                )
            )
        else:
            found.append(free(self.pending.command, observed, self.pending.line))
        self.pending = None


def _masked(line: str) -> str:
    """The line with code spans blanked out, so that an arrow inside one is not an arrow."""
    return _CODE_SPAN.sub(lambda m: " " * len(m.group()), line)


def _prose_line(line: str, number: int) -> FreeEvidence | None:
    arrow = _ARROW.search(line)
    if arrow is not None and "`" in line:
        arrow = _ARROW.search(_masked(line))
    if arrow is not None:
        head, tail = line[: arrow.start()], line[arrow.end() :]
        return _arrow_evidence(head, tail, number)
    bracket = _SPAN_RESULT.search(line) if "`" in line else None
    if bracket is not None and _RESULT_WORD.match(bracket["result"]) and is_command(bracket["code"]):
        return free(bracket["code"].strip(), bracket["result"], number)
    return None


def _arrow_evidence(head: str, tail: str, number: int) -> FreeEvidence | None:
    if not _observation(tail):
        return None
    stripped = head.rstrip()
    if stripped.endswith("`"):
        # `command` → observed: the code span must end right at the arrow
        spans = list(_CODE_SPAN.finditer(stripped))
        last = spans[-1] if spans else None
        if last is None or last.end() != len(stripped):
            return None
        command = last.group(2).strip()
        return free(command, tail, number) if is_command(command) else None
    # no code span: only a bullet like `✅ GET /health → 200 OK` (an HTTP method and path)
    bullet = _BULLET.match(stripped)
    rest = stripped[bullet.end() :] if bullet else stripped
    if not _HTTP_METHOD.fullmatch(rest.strip()):
        return None
    mark_text = (bullet["mark"] or "") if bullet else ""
    hint = mark_of(mark_text) if mark_text else None
    return free(rest.strip(), tail, number, mark=mark_of(tail) or hint)
