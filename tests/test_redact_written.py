"""Issue 24, item 3: what loopkit writes holds no secret, however the command was given."""

from __future__ import annotations

import json

from tests.conftest import Repo

PHASE = "px"
SPEC = """\
phase = "px"
title = "Proxy gate"

[[milestones]]
id = "M1"
title = "Health answers 200"

  [[milestones.probes]]
  id = "P1"
  title = "health answers 200"
  run = "{run}"
"""
KEY = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    "-----END OPENSSH PRIVATE KEY-----",
]
QUOTED = "ab'cd-ef-9"  # a secret holding a quote, which shell quoting splits apart


def _open(repo: Repo, run: str = "printf 200", env: dict[str, str] | None = None) -> None:
    (repo.ws / "phases").mkdir(exist_ok=True)
    (repo.ws / "phases" / f"{PHASE}.toml").write_text(SPEC.format(run=run), "utf-8")
    result = repo.lk("phase", "new", PHASE, role="orchestrator", env=env)
    assert result.code == 0, result.err


def _everything_written(repo: Repo, *outputs: str) -> str:
    journal = (repo.ws / f"JOURNAL-{PHASE}.md").read_text("utf-8")
    return "\n".join([journal, repo.git("log", "--format=%B"), *outputs])


def test_a_key_given_as_several_arguments_is_redacted(repo: Repo) -> None:
    _open(repo)
    result = repo.lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "x", "--json",
                     "--", "echo", *KEY, role="builder")  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["command"] == "echo '[REDACTED]'"
    assert KEY[1] not in _everything_written(repo, result.out, result.err)


def test_a_secret_holding_a_quote_inside_sh_c_is_redacted(repo: Repo) -> None:
    _open(repo)
    env = {"SERVICE_TOKEN": QUOTED}
    result = repo.lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "x", "--json",
                     "--", "sh", "-c", f"echo {QUOTED!r} 'ab'\\''cd-ef-9' >/dev/null", role="builder",
                     env=env)  # fmt: skip
    assert result.code == 0, result.err
    assert "cd-ef-9" not in _everything_written(repo, result.out, result.err)


def test_a_secret_holding_a_quote_in_a_spec_run_is_redacted(repo: Repo) -> None:
    # opened where the variable is not set; run where it is
    _open(repo, run="echo 'ab'\\\\''cd-ef-9' >/dev/null; printf 200")
    result = repo.lk(
        "probe", "run", "--phase", PHASE, "--json", role="builder", env={"SERVICE_TOKEN": QUOTED}
    )
    assert result.code == 0, result.err
    assert "cd-ef-9" not in _everything_written(repo, result.out, result.err)


def test_curl_user_and_password_are_redacted(repo: Repo) -> None:
    _open(repo)
    result = repo.lk("probe", "exec", "--phase", PHASE, "--milestone", "M1", "--id", "x", "--json",
                     "--", "echo", "curl", "-u", "alice:pa55word", role="builder")  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["command"] == "echo curl -u [REDACTED]"
    assert "pa55word" not in _everything_written(repo, result.out, result.err)


def test_phase_new_refuses_a_written_secret_and_a_variable_s_value_alike(repo: Repo) -> None:
    token = "glrt-t1_abcdefghijABCDEFGHIJ12"
    for run, env, place in [
        (f"curl -H 'PRIVATE-TOKEN: {token}' https://gitlab.example", {}, "M1 P1 run"),
        ("curl -u deploy:s3cr3t-deploy https://h", {}, "M1 P1 run"),
        ("printf s3cr3t-deploy", {"DEPLOY_SECRET": "s3cr3t-deploy"}, "M1 P1 run"),
    ]:
        (repo.ws / "phases").mkdir(exist_ok=True)
        (repo.ws / "phases" / f"{PHASE}.toml").write_text(SPEC.format(run=run), "utf-8")
        refused = repo.lk("phase", "new", PHASE, "--json", role="orchestrator", env=env)
        assert refused.code == 4, refused.err
        assert f"phases/{PHASE}.toml: {place}: holds a secret" in refused.err
        assert token not in refused.out + refused.err and "s3cr3t" not in refused.out + refused.err
        assert not (repo.ws / f"STATUS-{PHASE}.md").exists()
    # a reference to the environment is what a spec should hold
    _open(repo, run="""curl -H 'Authorization: Bearer $API_TOKEN' -u \\"deploy:$PASS\\" https://h""")
    assert "$API_TOKEN" in repo.git("show", "HEAD", "--", f"phases/{PHASE}.toml")


def test_phase_update_refuses_a_written_secret(repo: Repo) -> None:
    _open(repo)
    spec = repo.ws / "phases" / f"{PHASE}.toml"
    spec.write_text(SPEC.format(run="printf 200") + 'expect = ["xoxb-1234567890-abcdefghij"]\n', "utf-8")
    refused = repo.lk("phase", "update", PHASE, role="orchestrator")
    assert refused.code == 4, refused.err
    assert f"phases/{PHASE}.toml: M1 P1 expect[0]: holds a secret" in refused.err
