"""loopkit.toml and phases/<phase>.toml → model. Validation errors name the file and the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from loopkit import names
from loopkit.errors import BadInput
from loopkit.model import ROLES, Config, Identity, Milestone, PhaseSpec, ProbeSpec


def _load(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: invalid TOML: {exc}") from None


def _get(table: dict[str, Any], key: str, kind: type, where: str, default: Any = None) -> Any:
    value = table.get(key, default)
    if value is not None and not isinstance(value, kind):
        raise BadInput(f"{where}.{key} must be a {kind.__name__}")
    return value


def _strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise BadInput(f"{where}.{key} must be a list of strings")
    return tuple(str(v) for v in value)


def load_config(path: Path) -> Config:
    data = _load(path)
    where = path.name
    defaults = Config()
    files = _get(data, "files", dict, where, {})
    journal = files.get("journal", defaults.journals)
    if isinstance(journal, str):
        journal = {"builder": journal}
    if not isinstance(journal, dict) or not all(isinstance(v, str) for v in journal.values()):
        raise BadInput(f"{where}: files.journal must be a table of role = pattern")
    identities = dict(defaults.identities)
    roles = _get(data, "roles", dict, where, {})
    for role, table in roles.items():
        if role not in ROLES or not isinstance(table, dict):
            raise BadInput(f"{where}: roles.{role} is not one of {', '.join(ROLES)}")
        base = identities[role]
        name = _get(table, "name", str, f"{where}: roles.{role}", base.name)
        email = _get(table, "email", str, f"{where}: roles.{role}", base.email)
        identities[role] = Identity(name, email)
    probe = _get(data, "probe", dict, where, {})
    timeout = probe.get("timeout", defaults.probe_timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise BadInput(f"{where}: probe.timeout must be a positive number of seconds")
    redact = _get(data, "redact", dict, where, {})
    patterns = _strings(redact, "patterns", f"{where}: redact")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadInput(f"{where}: redact.patterns: bad regular expression {pattern!r}: {exc}") from None
    rules = _get(data, "rules", dict, where, {})
    open_phase = (
        _strings(rules, "open_phase", f"{where}: rules") if "open_phase" in rules else defaults.open_phase
    )
    config = Config(
        status=_get(files, "status", str, f"{where}: files", defaults.status),
        journals={k: v for k, v in journal.items() if k in ROLES},
        inbox=_get(files, "inbox", str, f"{where}: files", defaults.inbox),
        archive=_get(files, "archive", str, f"{where}: files", defaults.archive),
        identities=identities,
        probe_timeout=float(timeout),
        redact_patterns=patterns,
        open_phase=open_phase,
    )
    _check_patterns(config, where)
    return config


def _check_patterns(config: Config, where: str) -> None:
    for key, pattern in [
        ("status", config.status),
        ("inbox", config.inbox),
        ("archive", config.archive),
    ] + [(f"journal.{r}", p) for r, p in config.journals.items()]:
        parts = Path(pattern).parts
        if not pattern or Path(pattern).is_absolute() or ".." in parts:
            raise BadInput(f"{where}: files.{key} must be a relative path inside the workspace")
        if key not in ("archive", "inbox") and "{phase}" not in pattern:
            raise BadInput(f"{where}: files.{key} must contain {{phase}}")
    if "{ROLE}" not in config.inbox and "{role}" not in config.inbox:
        raise BadInput(f"{where}: files.inbox must contain {{ROLE}}")


def load_phase(path: Path, *, expected: str | None = None) -> PhaseSpec:
    data = _load(path)
    where = str(path.name)
    phase = data.get("phase", expected or path.stem)
    if not isinstance(phase, str) or not names.is_phase(phase):
        raise BadInput(f"{where}: phase {phase!r} is not a valid phase name")
    if expected is not None and phase != expected:
        raise BadInput(f"{where}: phase = {phase!r} does not match the file name")
    title = _get(data, "title", str, where, phase)
    plan = _get(data, "plan", str, where)
    raw_milestones = data.get("milestones", [])
    if not isinstance(raw_milestones, list):
        raise BadInput(f"{where}: milestones must be an array of tables ([[milestones]])")
    milestones: list[Milestone] = []
    for index, raw in enumerate(raw_milestones):
        at = f"{where}: milestones[{index}]"
        if not isinstance(raw, dict):
            raise BadInput(f"{at} must be a table")
        mid = raw.get("id")
        if not isinstance(mid, str) or not names.is_id(mid):
            raise BadInput(f"{at}.id {mid!r} is not a valid milestone id")
        if any(m.id == mid for m in milestones):
            raise BadInput(f"{at}.id {mid!r} appears twice")
        probes = tuple(_probe(p, f"{at}.probes[{i}]") for i, p in enumerate(_list(raw, "probes", at)))
        ids = [p.id for p in probes]
        if len(set(ids)) != len(ids):
            raise BadInput(f"{at}: probe ids repeat")
        milestones.append(
            Milestone(
                id=mid,
                title=_get(raw, "title", str, at, mid),
                paths=_strings(raw, "paths", at),
                probes=probes,
            )
        )
    return PhaseSpec(phase=phase, title=title, plan=plan, milestones=tuple(milestones))


def _list(table: dict[str, Any], key: str, where: str) -> list[Any]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise BadInput(f"{where}.{key} must be an array of tables")
    return value


def _probe(raw: Any, where: str) -> ProbeSpec:
    if not isinstance(raw, dict):
        raise BadInput(f"{where} must be a table")
    pid = raw.get("id")
    if not isinstance(pid, str) or not names.is_id(pid):
        raise BadInput(f"{where}.id {pid!r} is not a valid probe id")
    run = raw.get("run")
    if not isinstance(run, str) or not run.strip():
        raise BadInput(f"{where}.run must be a command string")
    expect = _strings(raw, "expect", where)
    expect_not = _strings(raw, "expect_not", where)
    observe = _get(raw, "observe", str, where) or ("stdout" if expect or expect_not else "exit")
    from loopkit.probe import validate_observe

    try:
        validate_observe(observe)
    except BadInput as exc:
        raise BadInput(f"{where}.observe: {exc.message}") from None
    expect_exit = raw.get("expect_exit")
    if expect_exit is not None and (isinstance(expect_exit, bool) or not isinstance(expect_exit, int)):
        raise BadInput(f"{where}.expect_exit must be an integer")
    timeout = raw.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise BadInput(f"{where}.timeout must be a positive number")
    return ProbeSpec(
        id=pid,
        title=_get(raw, "title", str, where, pid),
        run=run,
        observe=observe,
        expect=expect,
        expect_not=expect_not,
        expect_exit=expect_exit,
        timeout=float(timeout) if timeout is not None else None,
    )


def load_report_url(path: Path) -> str | None:
    """`[report] commit_url` of loopkit.toml: an http(s) URL with `{sha}` where the commit id goes.

    Only http and https: the page puts it in an href, where `javascript:` would be a script.
    """
    data = _load(path)
    where = f"{path.name}: report"
    report = _get(data, "report", dict, path.name, {})
    url = _get(report, "commit_url", str, where)
    if url is None:
        return None
    if "{sha}" not in url or not re.match(r"https?://[^\s]+$", url):
        raise BadInput(f"{where}.commit_url must be an http(s) URL containing {{sha}}, not {url!r}")
    return str(url)
