"""loopkit.toml and phases/<phase>.toml → model, read strictly (SPEC section 3).

An unknown key, a wrong type or a bad value is an error, and every error of a file is listed at
once, each named by its place: `phases/pxgate.toml: M1 P3: unknown key "expects"`. A mistyped
key must never silently become a default (an `expects` that turns into an exit-code check).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loopkit import names
from loopkit.errors import BadInput
from loopkit.model import ROLES
from loopkit.model.config import Config, Identity, Limits, Milestone, PhaseSpec, ProbeSpec


class _Errors:
    """Collects every problem of one file; `raise_if_any` makes them one line."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[str] = []

    def add(self, place: str, message: str) -> None:
        where = f"{self.where}: {place}" if place else self.where
        self.items.append(f"{where}: {message}")

    def keys(self, table: dict[str, Any], allowed: tuple[str, ...], place: str) -> None:
        for key in table:
            if key not in allowed:
                self.add(place, f"unknown key {_quote(key)}")

    def raise_if_any(self) -> None:
        if self.items:
            raise BadInput("; ".join(self.items))


def _quote(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_toml(data: bytes, where: str) -> dict[str, Any]:
    """The one way loopkit reads TOML. A byte-order mark (which some editors write) is accepted;
    arrays or tables nested too deeply for the parser are bad input, not a crash."""
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BadInput(f"{where}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{where}: invalid TOML: {exc}") from None
    except RecursionError:
        raise BadInput(f"{where}: invalid TOML: arrays or tables nested too deeply") from None


def _load(path: Path, where: str) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {where}: {exc.strerror}") from None
    return parse_toml(data, where)


def _take(
    table: dict[str, Any],
    key: str,
    check: Callable[[Any], bool],
    kind: str,
    errors: _Errors,
    place: str,
    default: Any,
) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not check(value):
        errors.add(place, f"{key} must be {kind}")
        return default
    return value


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


_TOP = ("files", "roles", "probe", "redact", "rules", "git", "lock", "report", "limits")


def load_config(path: Path) -> Config:
    return config_from(_load(path, path.name), path.name)


def config_from(data: dict[str, Any], where: str) -> Config:
    """loopkit.toml's tables as a Config; every problem of the file in one BadInput (exit 4)."""
    errors = _Errors(where)
    errors.keys(data, _TOP, "")
    defaults = Config()
    tables = {name: _take(data, name, _is_table, "a table", errors, "", {}) for name in _TOP}
    files = tables["files"]
    journal = _journals(files, errors, defaults)
    identities = _identities(tables["roles"], errors, defaults)
    probe = tables["probe"]
    errors.keys(probe, ("timeout",), "probe")
    timeout = _take(probe, "timeout", _is_number, "a positive number of seconds", errors, "probe", 30.0)
    patterns = _redact_patterns(tables["redact"], errors)
    rules = tables["rules"]
    open_phase, signed = _role_lists(rules, errors, defaults)
    git, lock, report = tables["git"], tables["lock"], tables["report"]
    errors.keys(git, ("remote", "sync"), "git")
    errors.keys(lock, ("timeout",), "lock")
    errors.keys(report, ("commit_url",), "report")
    limits = _limits(tables["limits"], errors)
    config = Config(
        status=_take(files, "status", _is_str, "a string", errors, "files", defaults.status),
        journals={k: v for k, v in journal.items() if k in ROLES},
        inbox=_take(files, "inbox", _is_str, "a string", errors, "files", defaults.inbox),
        archive=_take(files, "archive", _is_str, "a string", errors, "files", defaults.archive),
        identities=identities,
        probe_timeout=float(timeout),
        redact_patterns=patterns,
        open_phase=open_phase,
        signed=signed,
        replay=_take(rules, "replay", _is_bool, "true or false", errors, "rules", defaults.replay),
        git_remote=_take(git, "remote", _is_str, "a string", errors, "git", defaults.git_remote),
        git_sync=_take(git, "sync", _is_bool, "true or false", errors, "git", defaults.git_sync),
        lock_timeout=_take(lock, "timeout", _is_number, "a positive number of seconds", errors, "lock", None),
        commit_url=_take(report, "commit_url", _is_str, "a string", errors, "report", None),
        limits=limits,
    )
    _check_patterns(config, errors)
    url = config.commit_url
    if url is not None and ("{sha}" not in url or not re.match(r"https?://[^\s]+$", url)):
        # the report puts it in an href, where `javascript:` would be a script
        errors.add("report", f"commit_url must be an http(s) URL containing {{sha}}, not {url!r}")
    errors.raise_if_any()
    return config


def _journals(files: dict[str, Any], errors: _Errors, defaults: Config) -> dict[str, Any]:
    """`[files]`' keys checked, and its `journal`: one pattern (the builder's) or role = pattern."""
    errors.keys(files, ("status", "journal", "inbox", "archive"), "files")
    journal = files.get("journal", defaults.journals)
    if isinstance(journal, str):
        journal = {"builder": journal}
    if not isinstance(journal, dict) or not all(isinstance(v, str) for v in journal.values()):
        errors.add("files", "journal must be a table of role = pattern")
        journal = defaults.journals
    for role in journal:
        if role not in ROLES:
            errors.add("files.journal", f"unknown role {_quote(role)}")
    return dict(journal)


def _identities(roles: dict[str, Any], errors: _Errors, defaults: Config) -> dict[str, Identity]:
    """`[roles]`: each role's name and email over the defaults'."""
    identities = dict(defaults.identities)
    for role, table in roles.items():
        if role not in ROLES or not isinstance(table, dict):
            errors.add("roles", f"{_quote(role)} is not one of {', '.join(ROLES)}")
            continue
        errors.keys(table, ("name", "email"), f"roles.{role}")
        base = identities[role]
        identities[role] = Identity(
            _take(table, "name", _is_str, "a string", errors, f"roles.{role}", base.name),
            _take(table, "email", _is_str, "a string", errors, f"roles.{role}", base.email),
        )
    return identities


def _redact_patterns(redact: dict[str, Any], errors: _Errors) -> tuple[str, ...]:
    errors.keys(redact, ("patterns",), "redact")
    patterns = tuple(_take(redact, "patterns", _is_strings, "a list of strings", errors, "redact", []))
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            errors.add("redact.patterns", f"bad regular expression {pattern!r}: {exc}")
    return patterns


def _role_lists(
    rules: dict[str, Any], errors: _Errors, defaults: Config
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`[rules]`' keys checked, and its two lists of roles: open_phase and signed."""
    errors.keys(rules, ("open_phase", "signed", "replay"), "rules")
    open_phase = tuple(
        _take(rules, "open_phase", _is_strings, "a list of roles", errors, "rules", list(defaults.open_phase))
    )
    signed = tuple(dict.fromkeys(_take(rules, "signed", _is_strings, "a list of roles", errors, "rules", [])))
    for key, roles in (("open_phase", open_phase), ("signed", signed)):
        for role in roles:
            if role not in ROLES:
                errors.add(f"rules.{key}", f"unknown role {_quote(role)}")
    return open_phase, signed


def _limits(limits: dict[str, Any], errors: _Errors) -> Limits:
    errors.keys(limits, ("body", "note", "subject", "title"), "limits")
    sizes = {
        key: _take(limits, key, _is_int, "a whole number of bytes", errors, "limits", getattr(Limits(), key))
        for key in ("body", "note", "subject", "title")
    }
    return Limits(**sizes)


# SPEC section 2: the tables of loopkit.toml that are the orchestrator's (a trust chain,
# gitrepo/signers.py), as the Config fields they set; the other tables come from the work tree
_GUARDED = {
    "status": "files.status",
    "journals": "files.journal",
    "inbox": "files.inbox",
    "archive": "files.archive",
    "identities": "roles",
    "open_phase": "rules.open_phase",
    "signed": "rules.signed",
    "replay": "rules.replay",
}


def guarded_fields(config: Config) -> dict[str, Any]:
    """The Config fields that `[files]`, `[roles]` and `[rules]` set."""
    return {name: getattr(config, name) for name in _GUARDED}


def guarded(config: Config) -> tuple[Any, ...]:
    """What of a Config the trust chain compares: `[files]`, `[roles]` and `[rules]`, as read."""
    return tuple(
        tuple(sorted(value.items())) if isinstance(value, dict) else value
        for value in guarded_fields(config).values()
    )


def guarded_differences(trusted: Config, other: Config) -> list[str]:
    """The keys of `[files]`, `[roles]` and `[rules]` whose values differ, as loopkit.toml names them
    (`rules.signed`, `roles.adversary.email`)."""
    keys: list[str] = []
    for name, key in _GUARDED.items():
        old, new = getattr(trusted, name), getattr(other, name)
        if name == "identities":
            for role in ROLES:
                for part in ("name", "email"):
                    if getattr(old[role], part) != getattr(new[role], part):
                        keys.append(f"roles.{role}.{part}")
        elif old != new:
            keys.append(key)
    return keys


def _check_patterns(config: Config, errors: _Errors) -> None:
    for key, pattern in [
        ("status", config.status),
        ("inbox", config.inbox),
        ("archive", config.archive),
    ] + [(f"journal.{r}", p) for r, p in config.journals.items()]:
        parts = Path(pattern).parts
        if not pattern or Path(pattern).is_absolute() or ".." in parts:
            errors.add("files", f"{key} must be a relative path inside the workspace")
        elif key not in ("archive", "inbox") and "{phase}" not in pattern:
            errors.add("files", f"{key} must contain {{phase}}")
    if "{ROLE}" not in config.inbox and "{role}" not in config.inbox:
        errors.add("files", "inbox must contain {ROLE}")


_PHASE_KEYS = ("phase", "title", "plan", "paths", "milestones")
_MILESTONE_KEYS = ("id", "title", "paths", "probes")
_PROBE_KEYS = ("id", "title", "run", "observe", "expect", "expect_not", "expect_exit", "timeout")


def load_phase(path: Path, *, expected: str | None = None) -> PhaseSpec:
    where = f"phases/{path.name}" if path.parent.name == "phases" else path.name
    return phase_from(_load(path, where), where, expected=expected or path.stem)


def spec_from(data: bytes, where: str, *, phase: str) -> PhaseSpec:
    """A phase file's bytes (the work tree's or a committed blob) as its spec; BadInput if not one."""
    return phase_from(parse_toml(data, where), where, expected=phase)


def phase_from(data: dict[str, Any], where: str, *, expected: str) -> PhaseSpec:
    errors = _Errors(where)
    errors.keys(data, _PHASE_KEYS, "")
    phase = data.get("phase", expected)
    if not isinstance(phase, str) or not names.is_phase(phase):
        errors.add("", f"phase {phase!r} is not a valid phase name")
        phase = expected
    elif phase != expected:
        errors.add("", f"phase = {phase!r} does not match the file name")
    title = _take(data, "title", _is_str, "a string", errors, "", phase)
    plan = _take(data, "plan", _is_str, "a string", errors, "", None)
    paths = _paths(data, errors, "")
    raw_milestones = data.get("milestones", [])
    if not isinstance(raw_milestones, list):
        errors.add("", "milestones must be an array of tables ([[milestones]])")
        raw_milestones = []
    milestones: list[Milestone] = []
    for index, raw in enumerate(raw_milestones):
        place = f"milestones[{index}]"
        if not isinstance(raw, dict):
            errors.add(place, "must be a table")
            continue
        mid = raw.get("id")
        if not isinstance(mid, str) or not names.is_id(mid):
            errors.add(place, f"id {mid!r} is not a valid milestone id")
            continue
        place = mid
        errors.keys(raw, _MILESTONE_KEYS, place)
        if any(m.id == mid for m in milestones):
            errors.add(place, "appears twice")
        raw_probes = raw.get("probes", [])
        if not isinstance(raw_probes, list):
            errors.add(place, "probes must be an array of tables ([[milestones.probes]])")
            raw_probes = []
        probes = [p for i, r in enumerate(raw_probes) if (p := _probe(r, f"{place} probes[{i}]", errors))]
        ids = [p.id for p in probes]
        for pid in sorted({p for p in ids if ids.count(p) > 1}):
            errors.add(place, f"probe id {pid} appears twice")
        milestones.append(
            Milestone(
                id=mid,
                title=_take(raw, "title", _is_str, "a string", errors, place, mid),
                paths=_paths(raw, errors, place),
                probes=tuple(probes),
            )
        )
    errors.raise_if_any()
    return PhaseSpec(phase=phase, title=title, plan=plan, milestones=tuple(milestones), paths=paths)


def _paths(table: dict[str, Any], errors: _Errors, place: str) -> tuple[str, ...]:
    """A scope (SPEC section 1): gitignore-style globs relative to the repository root. What git's
    ignore files allow and loopkit cannot honour (a negation, a path climbing out) is an error,
    never a glob quietly matching something else."""
    found = tuple(_take(table, "paths", _is_strings, "a list of strings", errors, place, []))
    for pattern in found:
        bare = pattern.strip("/")
        if not bare.strip():
            errors.add(place, f"paths: {pattern!r} is empty")
        elif pattern.startswith("!"):
            errors.add(place, f"paths: {pattern!r}: negated patterns are not supported")
        elif ".." in bare.split("/") or any(c in pattern for c in "\0\n\r\\"):
            errors.add(place, f"paths: {pattern!r} is not a path inside the repository")
    return found


def _expectations(raw: dict[str, Any], key: str, errors: _Errors, place: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        errors.add(place, f"{key} must be a list of strings")
        return ()
    return tuple(str(v) for v in value)


def _probe(raw: Any, place: str, errors: _Errors) -> ProbeSpec | None:
    if not isinstance(raw, dict):
        errors.add(place, "must be a table")
        return None
    pid = raw.get("id")
    if not isinstance(pid, str) or not names.is_id(pid):
        errors.add(place, f"id {pid!r} is not a valid probe id")
        return None
    place = f"{place.split(' ')[0]} {pid}"
    errors.keys(raw, _PROBE_KEYS, place)
    run = raw.get("run")
    if not isinstance(run, str) or not run.strip():
        errors.add(place, "run must be a command string")
        run = ""
    expect = _expectations(raw, "expect", errors, place)
    expect_not = _expectations(raw, "expect_not", errors, place)
    observe = _take(raw, "observe", _is_str, "a string", errors, place, None) or (
        "stdout" if expect or expect_not else "exit"
    )
    from loopkit.probe import validate_observe

    try:
        validate_observe(observe)
    except BadInput as exc:
        errors.add(place, f"observe: {exc.message}")
    expect_exit = _take(raw, "expect_exit", _is_int, "an integer", errors, place, None)
    timeout = _take(raw, "timeout", _is_number, "a positive number of seconds", errors, place, None)
    return ProbeSpec(
        id=pid,
        title=_take(raw, "title", _is_str, "a string", errors, place, pid),
        run=run,
        observe=observe,
        expect=expect,
        expect_not=expect_not,
        expect_exit=expect_exit,
        timeout=float(timeout) if timeout is not None else None,
    )


def load_report_url(path: Path) -> str | None:
    """`[report] commit_url` of loopkit.toml (checked by `config_from`)."""
    return load_config(path).commit_url
