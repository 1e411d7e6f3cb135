"""Issue 24, items 7 and 10: bad input is exit 4 in one line (never 70), for the command that needs
the file; the commands that show every phase report it (`bad-spec`) and go on."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Repo

GOOD = 'phase = "ok"\ntitle = "fine"\n\n[[milestones]]\nid = "M1"\n\n  [[milestones.probes]]\n  id = "P1"\n  run = "true"\n'
DEEP = "[" * 500 + "]" * 500


def _spec(repo: Repo, phase: str, text: str) -> None:
    (repo.ws / "phases").mkdir(exist_ok=True)
    (repo.ws / "phases" / f"{phase}.toml").write_text(text, "utf-8")


def _one_line(err: str, *wanted: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for text in wanted:
        assert text in lines[0], err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('phase = "typo"\n\n[[milestones]]\nid = "M1"\nbogus = 1\n', 'M1: unknown key "bogus"'),
        (f'phase = "typo"\nx = {DEEP}\n', "nested too deeply"),
    ],
)
def test_a_command_needing_a_bad_spec_exits_4_naming_the_error(repo: Repo, text: str, message: str) -> None:
    _spec(repo, "typo", text)
    _spec(repo, "ok", GOOD)
    for args in (
        ("evidence", "--phase", "typo"),
        ("evidence", "--phase", "typo", "--json"),
        ("gate", "--phase", "typo"),
        ("probe", "exec", "--phase", "typo", "--milestone", "M1", "--id", "x", "--", "true"),
        ("probe", "run", "--phase", "typo"),
    ):
        result = repo.lk(*args, role="builder")
        assert result.code == 4, (args, result.out, result.err)
        _one_line(result.err, "phases/typo.toml", message)
    # the commands that show every phase report it and show the others
    status = repo.lk("status", "--json")
    assert status.code == 0, status.err
    phases = {p["phase"]: p for p in status.json["phases"]}
    assert set(phases) == {"ok", "typo"}
    assert [p["code"] for p in phases["typo"]["problems"]] == ["bad-spec"]
    assert phases["ok"]["milestones"][0]["id"] == "M1"
    check = repo.lk("check", "--json")
    assert check.code == 1 and {p["code"] for p in check.json["problems"]} == {"bad-spec"}
    listed = repo.lk("phase", "list", "--json")
    assert listed.code == 0 and message in str(listed.json["phases"])


def test_arrays_nested_500_deep_in_loopkit_toml_are_exit_4(repo: Repo) -> None:
    config = repo.ws / "loopkit.toml"
    config.write_text(config.read_text("utf-8") + f"\n[report]\nx = {DEEP}\n", "utf-8")
    result = repo.lk("status")
    assert result.code == 4, result.err
    _one_line(result.err, "loopkit.toml", "nested too deeply")


def test_a_loopkit_toml_starting_with_a_byte_order_mark_is_read(repo: Repo) -> None:
    config = repo.ws / "loopkit.toml"
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    _spec(repo, "ok", "\ufeff" + GOOD)  # a spec too
    result = repo.lk("status", "--json")
    assert result.code == 0, result.err
    assert [p["phase"] for p in result.json["phases"]] == ["ok"]
    assert repo.lk("phase", "new", "ok", role="orchestrator").code == 0


def test_a_folder_where_the_journal_should_be_is_exit_4(repo: Repo) -> None:
    _spec(repo, "ok", GOOD)
    assert repo.lk("phase", "new", "ok", role="orchestrator").code == 0
    journal = repo.ws / "JOURNAL-ok.md"
    repo.git("rm", "-q", "--cached", journal.name)
    journal.unlink()
    journal.mkdir()
    for args in (("status",), ("status", "--json"), ("report",), ("journal", "add", "--phase", "ok", "--title", "t",
                 "--body", "b"), ("evidence", "--phase", "ok"), ("check",),
                 ("claim", "--phase", "ok", "--milestone", "M1")):  # fmt: skip
        result = repo.lk(*args, role="builder")
        assert result.code == 4, (args, result.err)
        _one_line(result.err, "JOURNAL-ok.md", "directory")
        if "--json" in args:
            assert json.loads(result.out)["exit"] == 4
