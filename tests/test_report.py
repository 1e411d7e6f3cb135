"""`loopkit report`: a workspace in every state with a hostile value in every field, rendered, read
back with Python's html parser, then opened in headless Chromium (DOM and two screenshots).

Under CI=true a Chromium that cannot start fails the test; elsewhere it skips. REPORT_SHOTS=DIR also
copies the page and the screenshots there, for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import NOW, Repo, make_repo, run_loopkit

from loopkit.documents.status import StatusDocument
from loopkit.services.context import Context
from loopkit.services.inbox import consume, send
from loopkit.services.loop import claim, done, verdict
from loopkit.services.phases import phase_new
from loopkit.services.probes import probe_run
from loopkit.services.report import render_page

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JINJA = "{{ 7*7 }}"
HOSTILE = f"{SCRIPT} {IMG} {JINJA}"
COMMIT_URL = "https://git.example.net/org/repo/commit/{sha}"
STATES = ("planned", "in-progress", "awaiting-review", "changes-requested", "ready", "done")
# phase → the state it must reach
PHASES = {
    "planned-one": "planned",
    "stale": "in-progress",
    "progress": "in-progress",
    "review": "awaiting-review",
    "failing": "changes-requested",
    "forged": "awaiting-review",
    "ready": "ready",
    "finished": "done",
}


def _spec(phase: str, hostile_file: Path) -> str:
    # TOML literal strings ('…') hold the hostile text as it is.
    return f"""phase = "{phase}"
title = '{phase} {HOSTILE}'

[[milestones]]
id = "M1"
title = 'first {HOSTILE}'

  [[milestones.probes]]
  id = "P1"
  title = 'answers {HOSTILE}'
  run = "printf 200"
  observe = "stdout"
  expect = ["200"]

  [[milestones.probes]]
  id = "P2"
  title = 'prints hostile text'
  run = "cat {hostile_file}"
  observe = "stdout"
  expect_not = ["500"]
"""


def _build(base: Path) -> Repo:
    repo = make_repo(base, workspace="docs")
    hostile_file = repo.root / "hostile.txt"
    repo.commit_code("hostile.txt", HOSTILE + "\n", "a file that prints hostile text")
    with open(repo.ws / "loopkit.toml", "a", encoding="utf-8") as handle:
        handle.write(f'\n[report]\ncommit_url = "{COMMIT_URL}"\n')
    for phase in PHASES:
        repo.write(f"docs/phases/{phase}.toml", _spec(phase, hostile_file))
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "specs")
    env = {**os.environ, "LOOPKIT_NOW": NOW}

    def ctx(role: str) -> Context:
        return Context(cwd=repo.ws, environ={**env, "LOOPKIT_ROLE": role})

    def opened(phase: str) -> None:
        phase_new(ctx("orchestrator"), phase, None)
        probe_run(ctx("builder"), phase=phase, milestone="M1", probe=None)

    opened("stale")
    repo.commit_code("src/app.py", "print('changed')\n", "code changed: the stale phase's evidence is old")
    for phase in ("progress", "review", "failing", "forged", "ready", "finished"):
        opened(phase)
    send(ctx("orchestrator"), to="builder", phase="progress", subject=HOSTILE, body=f"body {HOSTILE}")
    for phase in ("review", "failing", "forged", "ready", "finished"):
        claim(ctx("builder"), phase=phase, milestone="M1", note=f"claim note {HOSTILE}")
    verdict(ctx("adversary"), phase="failing", milestone="M1", result="FAIL", note=f"fail note {HOSTILE}")
    for phase in ("ready", "finished"):
        verdict(ctx("adversary"), phase=phase, milestone="M1", result="PASS", note=f"pass note {HOSTILE}")
        consume(ctx("builder"), to="builder", ids=[], every=True, phase=phase)
    done(ctx("builder"), phase="finished", summary=f"summary {HOSTILE}")
    # A PASS typed into STATUS by a person: it must show as not counting.
    status = repo.ws / "STATUS-forged.md"
    line = f"- **PASS** M1 @{NOW} by adversary · claim {'0' * 40} — typed {HOSTILE}\n"
    status.write_text(status.read_text(encoding="utf-8") + line, encoding="utf-8")
    repo.git("commit", "-q", "-am", "typed a PASS")
    return repo


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Person\n\temail = person@example.invalid\n[commit]\n\tgpgsign = false\n",
        encoding="utf-8",
    )
    saved = dict(os.environ)
    os.environ.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1")
    for name in list(os.environ):
        if name.startswith(("LOOPKIT_", "GIT_AUTHOR_", "GIT_COMMITTER_")):
            del os.environ[name]
    try:
        return _build(tmp_path_factory.mktemp("report"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def page(books: Repo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "report.html"
    result = run_loopkit("report", "--out", str(out), cwd=books.ws)
    assert result.code == 0, result.err
    assert result.out == ""
    assert "wrote" in result.err
    return out


class Page(HTMLParser):
    """Every tag with its attributes, the text, and which tag each piece of text sits in."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.in_tag: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br", "link", "img", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.stack:
            self.in_tag.setdefault(self.stack[-1], []).append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse(html: str) -> Page:
    parser = Page()
    parser.feed(html)
    parser.close()
    return parser


def test_report_every_phase_state_and_milestone(books: Repo, page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    doc = run_loopkit("status", "--json", cwd=books.ws).json
    states = {p["phase"]: p["state"] for p in doc["phases"]}
    assert states == PHASES
    parsed = parse(html)
    for phase in PHASES:
        assert parsed.find("tr", **{"data-phase": phase}), phase
        section = [a for a in parsed.find("section") if (a.get("id") or "").startswith(f"phase-{phase}-")]
        assert section, phase
        assert parsed.find("a", href=f"#{section[0]['id']}")
        assert parsed.find("div", id=f"{section[0]['id']}-M1-0")
    words = set(parsed.in_tag.get("span", []))
    for state in STATES:
        assert state in words, state
    text = parsed.all_text
    assert "1 of 1" in text and "0 of 1" in text  # milestones passed of total
    assert "FAIL" in words and "PASS" in words and "CLAIM" in words
    assert "PASS — does not count" in words  # the typed PASS
    assert f"fail note {HOSTILE}" in text  # the FAIL's note, as text
    assert "stale-evidence" in text and "forged-verdict" in text
    assert f"body {HOSTILE}" in text  # the pending message
    assert "2026-06-13 13:44Z" in text


def test_report_has_no_markup_from_the_books(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    parsed = parse(html)
    tags = {t for t, _ in parsed.tags}
    assert "script" not in tags and "img" not in tags and "link" not in tags and "iframe" not in tags
    assert [t for t, _ in parsed.tags].count("style") == 1
    for tag, attrs in parsed.tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        assert "src" not in attrs, (tag, attrs)
        if tag == "a":
            href = attrs["href"] or ""
            assert href.startswith("#") or re.fullmatch(
                r"https://git\.example\.net/org/repo/commit/[0-9a-f]{40}", href
            ), href
    assert SCRIPT not in html and IMG not in html  # only escaped forms are in the source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = parsed.all_text
    assert text.count(HOSTILE) >= 8  # titles, notes, messages, observed values: shown as typed
    assert JINJA in text and "49" not in re.sub(r"[0-9a-f]{10,}", "", text.replace(NOW, ""))
    assert "url(" not in html and "@import" not in html and "http://" not in html


def test_report_links_commits(books: Repo, page: Path) -> None:
    parsed = parse(page.read_text(encoding="utf-8"))
    links = [a["href"] for a in parsed.find("a") if (a.get("href") or "").startswith("https://")]
    shas = {href.rsplit("/", 1)[1] for href in links}
    log = set(books.git("log", "--format=%H").split())
    assert shas and shas <= log  # every link is a real commit
    doc = run_loopkit("status", "--json", cwd=books.ws).json
    review = next(p for p in doc["phases"] if p["phase"] == "review")
    claim_rec = review["milestones"][0]["claim"]
    assert claim_rec["commit"] in shas and claim_rec["head"] in shas  # the claim's commit and its head
    assert "0" * 40 not in shas  # a typed record's text is not a commit: no link


def test_report_needs_no_role_writes_one_file_commits_nothing(books: Repo, tmp_path: Path) -> None:
    before = books.git("status", "--porcelain")
    head = books.git("rev-parse", "HEAD")
    result = run_loopkit("report", "--out", "-", cwd=books.ws)
    assert result.code == 0, result.err
    assert result.out.startswith("<!doctype html>")
    assert books.git("status", "--porcelain") == before and books.git("rev-parse", "HEAD") == head
    data = run_loopkit("report", "--json", "--out", str(tmp_path / "r.html"), cwd=books.ws).json
    assert data["phases"] == len(PHASES) and data["bytes"] == (tmp_path / "r.html").stat().st_size
    one = run_loopkit("report", "--phase", "failing", "--out", "-", cwd=books.ws)
    assert 'data-phase="failing"' in one.out and 'data-phase="ready"' not in one.out
    bad = run_loopkit("report", "--json", "--out", "-", cwd=books.ws)
    assert bad.code == 2 and bad.json["ok"] is False


def test_report_refuses_a_script_url(books: Repo, tmp_path: Path) -> None:
    config = books.ws / "loopkit.toml"
    saved = config.read_text(encoding="utf-8")
    try:
        config.write_text(saved.replace(COMMIT_URL, "javascript:alert(1)//{sha}"), encoding="utf-8")
        result = run_loopkit("report", "--out", str(tmp_path / "x.html"), cwd=books.ws)
        assert result.code == 4 and "commit_url" in result.err
        assert not (tmp_path / "x.html").exists()
    finally:
        config.write_text(saved, encoding="utf-8")


def test_render_page_is_autoescaped_without_a_workspace() -> None:
    from datetime import UTC, datetime

    data = StatusDocument(HOSTILE, ())
    html = render_page(data, now=datetime(2026, 6, 13, tzinfo=UTC), commit_url=None)
    assert SCRIPT not in html and "&lt;script&gt;" in html


# -- headless Chromium ----------------------------------------------------------------------------
def _chromium() -> str | None:
    return next((p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and Path(p).exists()), None)


def _browser(args: list[str], url: str, timeout: float = 90) -> subprocess.CompletedProcess[bytes]:
    binary = _chromium()
    if binary is None:
        raise OSError("no chromium on this machine (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="loopkit-chromium-") as profile:
        return subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *args,
                url,
            ],
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def _need_browser(exc: BaseException | str) -> None:
    message = f"headless chromium cannot start: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def test_report_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    url = page.as_uri()
    try:
        dom = _browser(["--dump-dom"], url)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _need_browser(exc)
    if dom.returncode != 0 or b"<html" not in dom.stdout:
        _need_browser(dom.stderr.decode(errors="replace")[-500:])
    parsed = parse(dom.stdout.decode())
    for phase in PHASES:
        assert parsed.find("tr", **{"data-phase": phase}), phase
    assert not parsed.find("script") and not parsed.find("img")  # the browser made no markup either
    shots = {}
    for name, size in (("desktop", "1280,800"), ("phone", "390,844")):
        shot = tmp_path / f"report-{name}.png"
        done_ = _browser([f"--window-size={size}", "--hide-scrollbars", f"--screenshot={shot}"], url)
        assert done_.returncode == 0, done_.stderr.decode(errors="replace")[-500:]
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == tuple(int(x) for x in size.split(",")), (width, height)
        shots[name] = shot
    keep = os.environ.get("REPORT_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for shot in (*shots.values(), page):
            shutil.copy(shot, Path(keep) / shot.name)


# -- the timeline, check's problems, staleness (issue 24 item 9) ----------------------------------
def _answer_spec(phase: str, answer: Path) -> str:
    return f"""phase = "{phase}"
title = "{phase}"

[[milestones]]
id = "M1"
title = "answers"

  [[milestones.probes]]
  id = "P1"
  title = "answers 200"
  run = "cat {answer}"
  observe = "stdout"
  expect = ["200"]
"""


@pytest.fixture(scope="module")
def lived(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """`history`: a FAIL, then a fix, its PASS, a claim, the adversary's own PASS, a verdict, DONE,
    then code changed (a DONE phase is history: nothing of it goes stale). `open`: evidence made
    stale by that change, and a journal with an unclosed fence (a parse-warning, check's only)."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Person\n\temail = person@example.invalid\n[commit]\n\tgpgsign = false\n",
        encoding="utf-8",
    )
    saved = dict(os.environ)
    os.environ.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1")
    for name in list(os.environ):
        if name.startswith(("LOOPKIT_", "GIT_AUTHOR_", "GIT_COMMITTER_")):
            del os.environ[name]
    try:
        repo = make_repo(tmp_path_factory.mktemp("lived"), workspace="docs")
        answer = repo.root / "answer.txt"
        repo.commit_code("answer.txt", "500\n", "answers 500")
        for phase in ("history", "open"):
            repo.write(f"docs/phases/{phase}.toml", _answer_spec(phase, answer))
        repo.git("add", "-A")
        repo.git("commit", "-q", "-m", "specs")
        env = {**os.environ, "LOOPKIT_NOW": NOW}

        def ctx(role: str) -> Context:
            return Context(cwd=repo.ws, environ={**env, "LOOPKIT_ROLE": role})

        phase_new(ctx("orchestrator"), "history", None)
        probe_run(ctx("builder"), phase="history", milestone="M1", probe=None)  # FAIL: 500
        repo.commit_code("answer.txt", "200\n", "answers 200")
        probe_run(ctx("builder"), phase="history", milestone="M1", probe=None)
        claim(ctx("builder"), phase="history", milestone="M1", note="fixed")
        probe_run(ctx("adversary"), phase="history", milestone="M1", probe=None)
        verdict(ctx("adversary"), phase="history", milestone="M1", result="PASS", note="saw 200")
        consume(ctx("builder"), to="builder", ids=[], every=True, phase="history")
        done(ctx("builder"), phase="history", summary="answers")
        phase_new(ctx("orchestrator"), "open", None)
        probe_run(ctx("builder"), phase="open", milestone="M1", probe=None)
        repo.commit_code("src/app.py", "print('changed')\n", "code changed after both phases' evidence")
        journal = repo.ws / "JOURNAL-open.md"
        journal.write_text(journal.read_text(encoding="utf-8") + "\n```sh\nnever closed\n", encoding="utf-8")
        repo.git("commit", "-q", "-am", "a note with an unclosed fence")
        return repo
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def lived_page(lived: Repo) -> str:
    result = run_loopkit("report", "--out", "-", cwd=lived.ws)
    assert result.code == 0, result.err
    return result.out


def _section(html: str, phase: str) -> str:
    start = html.index(f'<section class="phase" id="phase-{phase}-')
    end = html.find("<section", start + 1)
    return html[start : end if end != -1 else len(html)]


def _items(html: str, css: str) -> list[str]:
    """The text of each <li> of the first list of this class, tags dropped, spaces folded."""
    found = re.search(rf'<ol class="{css}">(.*?)</ol>', html, re.S)
    assert found, css
    items = re.findall(r"<li[^>]*>(.*?)</li>", found.group(1), re.S)
    return [" ".join(parse(item).all_text.split()) for item in items]


def test_report_timeline_holds_every_genuine_record_in_history_order(lived: Repo, lived_page: str) -> None:
    timeline = _items(_section(lived_page, "history"), "timeline")
    # `evidence P1 FAIL by builder, …`, `CLAIM by builder, …`, `PASS by adversary, …`
    shapes = [(i.split()[0], i.split()[2] if i.startswith("evidence") else "") for i in timeline]
    assert shapes == [
        ("evidence", "FAIL"),  # the FAIL that the later PASS replaced: still shown
        ("evidence", "PASS"),
        ("CLAIM", ""),
        ("evidence", "PASS"),  # the adversary's own probe, from its journal
        ("PASS", ""),
    ], timeline
    assert "by builder" in timeline[0] and "observed 500" in timeline[0]
    assert "by adversary" in timeline[3] and "observed 200" in timeline[3]
    assert "saw 200" in timeline[4]


def test_report_problems_are_exactly_checks(lived: Repo, lived_page: str) -> None:
    from loopkit.services.status import status
    from loopkit.services.view import check

    checked = run_loopkit("check", "--json", cwd=lived.ws).json["problems"]
    assert "parse-warning" in {p["code"] for p in checked}
    ctx = Context(cwd=lived.ws, environ={**os.environ, "LOOPKIT_NOW": NOW, "LOOPKIT_NO_CACHE": "1"})
    data = status(ctx, phase=None, detail=True).to_json()
    shown = data.get("problems", []) + [p for phase in data["phases"] for p in phase["problems"]]
    assert shown == check(ctx, phase=None).to_json()["problems"] == checked
    text = parse(lived_page).all_text
    assert f"{len(checked)} problem" in text
    for problem in checked:
        assert problem["message"] in text, problem


def test_report_a_done_phase_is_history_nothing_stale(lived: Repo, lived_page: str) -> None:
    evidence = run_loopkit("evidence", "--phase", "history", "--json", cwd=lived.ws).json
    # the code did change after it, but a DONE phase is history (SPEC 3, DONE gate 2): nothing stale
    assert evidence["milestones"][0]["stale"] == []
    done_part = parse(_section(lived_page, "history")).all_text
    assert "stale" not in done_part.lower(), done_part
    assert "p-stale" not in _section(lived_page, "history")


def test_report_stale_evidence_says_why(lived: Repo, lived_page: str) -> None:
    refused = lived.lk("claim", "--phase", "open", "--milestone", "M1", "--json", role="builder")
    assert refused.code == 3, refused.err
    why = [u["message"] for u in refused.json["unmet"] if u["code"] == "stale-evidence"]
    assert why, refused.json
    part = _section(lived_page, "open")
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", part, re.S) if "p-stale" in r)
    assert why[0] in parse(row).all_text  # the claim gate's words, beside the word "stale"
    problems = [" ".join(parse(li).all_text.split()) for li in re.findall(r"<li>(.*?)</li>", part, re.S)]
    assert any(p.startswith("stale-evidence") and why[0] in p for p in problems), problems
