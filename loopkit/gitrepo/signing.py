"""SSH signing of loopkit's commits and verification with a pinned verifier (SPEC section 10).

Signing: `signing_key` finds the key (LOOPKIT_SIGNING_KEY, else the clone's `user.signingkey`),
`commit_tree_sign_args` gives the `-c` options that make `git … commit-tree -S` sign with it.

Verification: `verify` asks ONE git process about many commits, with the verifier, the trusted
allowed-signers text and every option that could change the answer given on git's own command
line (which beats the clone's config), the global and system config left out, and replace refs
off. The clone's config can otherwise swap the verifier three ways, each tested:
`gpg.ssh.program` (a fake that answers "good"), `gpg.program` (a PGP-armoured signature makes git
ask the OpenPGP program, whatever `gpg.format` says) and `refs/replace/` (git then reads another,
genuinely signed commit in place of the one asked about).

Results are kept in the index (kind `signatures`, loopkit/index.py) by commit id and
allowed-signers digest: a commit's signature never changes. The kind is authenticated with a key
kept outside the clone (`$XDG_CACHE_HOME/loopkit/signatures.key`), so whoever can write the
clone's `.git` but not the user's home cannot plant a "good" there; an entry that does not check
is recomputed."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopkit.errors import BadInput, GitError
from loopkit.gitrepo import Memory
from loopkit.signed import Signature, Status

_HEX = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_LITERAL_PREFIXES = ("key::", "ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-")
_CACHE_DIGESTS = 8  # allowed-signers versions kept in the index; older ones are dropped
_TIMEOUT = 120.0

HOW_TO_SET_A_KEY = (
    "set LOOPKIT_SIGNING_KEY to a private key file (or to a public key whose private half an "
    "ssh-agent holds), or configure this clone: `git config gpg.format ssh`, "
    "`git config user.signingkey ~/.ssh/id_ed25519`, `git config commit.gpgsign true` "
    "(docs/signing.md)"
)


class SigningError(BadInput):
    """No usable signing key, or no verifier: exit 4, with how to set one."""


@dataclass(frozen=True)
class SigningKey:
    """`value` is what git gets as `user.signingkey`: an absolute path (a private key file, or a
    public key file whose private half an ssh-agent holds) or `key::<public key>`."""

    value: str
    source: str  # "LOOPKIT_SIGNING_KEY" or "user.signingkey"

    @property
    def is_literal(self) -> bool:
        return self.value.startswith("key::")


# -- the environment git and ssh-keygen run in ------------------------------------------------------
def resolve_environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


# Where a `pre-receive` hook finds the objects being pushed (git's quarantine): kept, or the pushed
# commits could not be read and every signature on them would look missing (SPEC 11's hook). They
# say where objects are, not how anything is read or verified.
QUARANTINE = ("GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")


def pinned_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any GIT_* variable but git's QUARANTINE (GIT_CONFIG_PARAMETERS,
    GIT_DIR, GIT_REPLACE_REF_BASE… all change what git reads), no global or system config, no replace
    refs."""
    env = {k: v for k, v in resolve_environ(environ).items() if not k.startswith("GIT_") or k in QUARANTINE}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_NO_REPLACE_OBJECTS="1")
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def find_ssh_keygen(environ: Mapping[str, str] | None = None) -> str:
    """The absolute path of the `ssh-keygen` on PATH: the verifier SPEC names."""
    found = shutil.which("ssh-keygen", path=resolve_environ(environ).get("PATH", os.defpath))
    if not found:
        raise SigningError("cannot sign or verify SSH signatures: ssh-keygen is not on PATH")
    return str(Path(found).resolve())


def _refuser(environ: Mapping[str, str] | None) -> str:
    """A program that answers no to anything: pinned as the OpenPGP and X.509 verifier."""
    found = shutil.which("false", path=resolve_environ(environ).get("PATH", os.defpath))
    return str(Path(found).resolve()) if found else find_ssh_keygen(environ)


def run_pinned(
    repo_root: Path,
    args: list[str],
    *,
    environ: Mapping[str, str] | None,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=repo_root,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            env=pinned_env(environ),
            timeout=_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[-1] if args else ''} took longer than {_TIMEOUT:.0f} s") from None


# -- signing ------------------------------------------------------------------------------------------
def _key_from(value: str, source: str, *, base: Path) -> SigningKey:
    value = value.strip()
    if value.startswith(_LITERAL_PREFIXES):
        literal = value if value.startswith("key::") else f"key::{value}"
        return SigningKey(literal, source)
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise SigningError(f"{source} names {value}, which is not a key file; {HOW_TO_SET_A_KEY}")
    return SigningKey(str(path.resolve()), source)


def signing_key(repo_root: Path, environ: Mapping[str, str] | None = None) -> SigningKey | None:
    """LOOPKIT_SIGNING_KEY, else the clone's `user.signingkey`; None when neither is set.

    The config is read with `git config --get`, which runs no program, so a clone's odd
    `gpg.program` plays no part: only the key's path (or `key::` literal) is taken from it. A
    relative LOOPKIT_SIGNING_KEY is relative to the current directory, a relative
    `user.signingkey` to the repository root (where git runs the signer)."""
    env = resolve_environ(environ)
    value = env.get("LOOPKIT_SIGNING_KEY", "").strip()
    if value:
        return _key_from(value, "LOOPKIT_SIGNING_KEY", base=Path.cwd())
    # the user's own global config counts here (that is where people keep user.signingkey);
    # only verification leaves it out
    try:
        proc = subprocess.run(
            ["git", "config", "--type=path", "--get", "user.signingkey"],
            cwd=repo_root,
            capture_output=True,
            env=dict(env),
            timeout=_TIMEOUT,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        raise GitError("cannot run git config to find user.signingkey") from None
    configured = proc.stdout.decode("utf-8", "replace").strip()
    if proc.returncode != 0 or not configured:
        return None
    return _key_from(configured, "user.signingkey", base=repo_root)


def require_signing_key(
    repo_root: Path, environ: Mapping[str, str] | None = None, *, role: str
) -> SigningKey:
    """The key for a signed role's commit, or SigningError (exit 4) saying how to set one."""
    key = signing_key(repo_root, environ)
    if key is None:
        raise SigningError(
            f"role {role} is in [rules] signed: its commits must be signed, and no key is set; "
            f"{HOW_TO_SET_A_KEY}"
        )
    return key


def commit_tree_sign_args(key: SigningKey, environ: Mapping[str, str] | None = None) -> list[str]:
    """Options to put before `commit-tree` (which then takes `-S`): SSH format, this key, and the
    `ssh-keygen` on PATH as the signer, so a clone's `gpg.ssh.program` cannot stand in for it.
    The agent, when the key needs one, is found through SSH_AUTH_SOCK as usual."""
    return [
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key.value}",
        "-c",
        f"gpg.ssh.program={find_ssh_keygen(environ)}",
    ]


def check_key(key: SigningKey, environ: Mapping[str, str] | None = None) -> None:
    """Sign a throw-away message the way git will, so a missing private half (no agent, wrong
    file, a passphrase with no agent) is exit 4 before anything is written, not exit 5 after."""
    keygen = find_ssh_keygen(environ)
    env = {k: v for k, v in resolve_environ(environ).items() if not k.startswith("GIT_") or k in QUARANTINE}
    env["SSH_ASKPASS_REQUIRE"] = "never"  # a passphrase prompt must fail, not hang an agent
    with tempfile.TemporaryDirectory(prefix="loopkit-sign-") as tmp:
        keyfile = key.value
        if key.is_literal:
            keyfile = str(Path(tmp) / "key.pub")
            Path(keyfile).write_text(key.value[len("key::") :] + "\n", encoding="utf-8")
        try:
            proc = subprocess.run(
                [keygen, "-Y", "sign", "-n", "loopkit-check", "-f", keyfile],
                input=b"loopkit signing check\n",
                capture_output=True,
                env=env,
                timeout=30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise signing_failure(key, "ssh-keygen waited for a passphrase") from None
    if proc.returncode != 0 or b"BEGIN SSH SIGNATURE" not in proc.stdout:
        raise signing_failure(key, proc.stderr.decode("utf-8", "replace"))


def signing_failure(key: SigningKey, stderr: str) -> SigningError:
    """The error for a signature that could not be made (from `check_key` or a failed
    `commit-tree -S`): what ssh-keygen said, and how to set a key."""
    said = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    said = re.sub(r"^(error|fatal): ", "", said)[:300] or "no reason given"
    agent = " (is its private half loaded in ssh-agent: `ssh-add`?)" if key.value.endswith(".pub") else ""
    return SigningError(f"cannot sign with {key.source} {key.value}{agent}: {said}; {HOW_TO_SET_A_KEY}")


# -- whose key made a signature (sync re-signs only what this clone's own key signed) --------------
def signature_public_key(armored: str) -> bytes | None:
    """The public key blob inside an armoured SSH signature (`-----BEGIN SSH SIGNATURE-----`), or
    None for anything else (a PGP signature, garbage). This says which key *claims* to have
    signed: enough to know whether this clone could make the same signature again, never a
    verification (`verify` is that)."""
    import base64
    import struct

    lines = [line.strip() for line in armored.strip().splitlines()]
    if (
        len(lines) < 3
        or lines[0] != "-----BEGIN SSH SIGNATURE-----"
        or lines[-1] != "-----END SSH SIGNATURE-----"
    ):
        return None
    try:
        data = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        return None
    if not data.startswith(b"SSHSIG") or len(data) < 14:
        return None
    (size,) = struct.unpack(">I", data[10:14])
    blob = data[14 : 14 + size]
    return blob if len(blob) == size and size else None


def public_key_blob(key: SigningKey, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The public key blob of a signing key (the base64 field of its `.pub` line), None when it
    cannot be read (a private key with a passphrase, say)."""
    import base64

    if key.is_literal:
        text = key.value[len("key::") :]
    elif key.value.endswith(".pub"):
        try:
            text = Path(key.value).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    else:
        env = {
            k: v for k, v in resolve_environ(environ).items() if not k.startswith("GIT_") or k in QUARANTINE
        }
        env["SSH_ASKPASS_REQUIRE"] = "never"
        try:
            proc = subprocess.run(
                [find_ssh_keygen(environ), "-y", "-P", "", "-f", key.value],
                capture_output=True,
                env=env,
                timeout=30,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return None
        if proc.returncode != 0:
            return None
        text = proc.stdout.decode("utf-8", "replace")
    fields = text.split()
    if len(fields) < 2:
        return None
    try:
        return base64.b64decode(fields[1], validate=True)
    except ValueError:
        return None


# -- verification ----------------------------------------------------------------------------------
def signers_digest(allowed_signers_text: str) -> str:
    return hashlib.sha256(allowed_signers_text.encode("utf-8")).hexdigest()


def _status(code: str) -> Status:
    # G: good and the key is allowed; N: no signature. Everything else counts as bad: U (a good
    # signature by a key the allowed signers do not list), B (invalid), E (cannot be checked),
    # X/Y (expired signature / key), R (revoked key).
    if code == "G":
        return "good"
    if code == "N":
        return "none"
    return "bad"


def _verify_args(keygen: str, refuser: str, signers_file: str) -> list[str]:
    pins = {
        "gpg.format": "ssh",
        "gpg.ssh.program": keygen,
        "gpg.ssh.allowedSignersFile": signers_file,
        "gpg.ssh.revocationFile": os.devnull,
        # a PGP-armoured or X.509 signature would make git run these, whatever gpg.format says
        "gpg.program": refuser,
        "gpg.openpgp.program": refuser,
        "gpg.x509.program": refuser,
        "log.showSignature": "false",  # it would print the verifier's words into the output
        "core.useReplaceRefs": "false",
        "i18n.logOutputEncoding": "UTF-8",
    }
    args: list[str] = []
    for name, value in pins.items():
        args += ["-c", f"{name}={value}"]
    return [
        *args,
        "log",
        "--no-walk=unsorted",
        "--ignore-missing",
        "--stdin",
        "--format=%x01%H%x00%G?%x00%GS%x00%ae",
    ]


def _normalise(shas: Iterable[str]) -> list[str]:
    wanted: dict[str, None] = {}
    for sha in shas:
        lowered = sha.strip().lower()
        if not _HEX.match(lowered):
            raise ValueError(f"not a full commit id: {sha!r}")
        wanted[lowered] = None
    return list(wanted)


def _run_verify(
    repo_root: Path, shas: list[str], allowed_signers_text: str, environ: Mapping[str, str] | None
) -> tuple[dict[str, Signature], bool]:
    """One git process for all `shas`; (answers, whether they may be cached)."""
    keygen = find_ssh_keygen(environ)
    refuser = _refuser(environ)
    with tempfile.TemporaryDirectory(prefix="loopkit-verify-") as tmp:
        signers_file = Path(tmp) / "allowed_signers"
        signers_file.write_text(allowed_signers_text, encoding="utf-8")
        proc = run_pinned(
            repo_root,
            _verify_args(keygen, refuser, str(signers_file)),
            environ=environ,
            stdin="".join(f"{sha}\n" for sha in shas).encode("ascii"),
        )
    if proc.returncode != 0:
        said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git log (signature verification) failed: {said[-1] if said else proc.returncode}")
    found: dict[str, Signature] = {}
    for chunk in proc.stdout.decode("utf-8", "replace").split("\x01")[1:]:
        fields = chunk.rstrip("\n").split("\x00")
        if len(fields) != 4:
            raise GitError(f"unexpected output from git log: {chunk[:80]!r}")
        sha, code, signer, email = fields
        status = _status(code)
        principal = signer if status == "good" and signer else None
        if status == "good" and principal is None:
            status = "bad"  # git said good without naming whom: never trust that
        found[sha] = Signature(status, principal, email)
    # E (cannot check) and anything the verifier complained about may be passing trouble: such a
    # batch is answered but not remembered
    cacheable = not proc.stderr.strip()
    return found, cacheable


def verify(
    repo_root: Path,
    shas: Iterable[str],
    allowed_signers_text: str,
    *,
    environ: Mapping[str, str] | None = None,
    memory: Memory | None = None,
) -> dict[str, Signature]:
    """The signature of each commit in `shas` (full ids), checked against `allowed_signers_text`
    (the trusted text, from `signers.trusted_signers`). Commits the repository does not have are
    left out of the answer. At most one git process, none when `memory` (the index) knows every
    answer."""
    wanted = _normalise(shas)
    if not wanted:
        return {}
    digest = signers_digest(allowed_signers_text)
    key = _mac_key(environ) if memory is not None else None
    kept = _kept(memory, key) if memory is not None and key is not None else {}
    answers = {sha: Signature(*kept[digest][sha]) for sha in wanted if sha in kept.get(digest, {})}
    missing = [sha for sha in wanted if sha not in answers]
    if missing:
        found, cacheable = _run_verify(repo_root, missing, allowed_signers_text, environ)
        answers.update(found)
        if memory is not None and key is not None and cacheable and found:
            table = kept.pop(digest, {})
            table.update({sha: [s.status, s.principal, s.author_email] for sha, s in found.items()})
            kept[digest] = table  # most recently used last
            for stale in list(kept)[:-_CACHE_DIGESTS]:
                del kept[stale]
            memory.put("signatures", {"mac": _mac(key, kept), "signers": kept})
            memory.save()
    return {sha: answers[sha] for sha in wanted if sha in answers}


# -- the index's verdicts ---------------------------------------------------------------------------
def _cache_key_path(environ: Mapping[str, str] | None) -> Path | None:
    env = resolve_environ(environ)
    base = env.get("XDG_CACHE_HOME") or (str(Path(env["HOME"]) / ".cache") if env.get("HOME") else "")
    if not base or not Path(base).is_absolute():
        return None
    return Path(base) / "loopkit" / "signatures.key"


def _mac_key(environ: Mapping[str, str] | None) -> bytes | None:
    path = _cache_key_path(environ)
    if path is None:
        return None
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        # another process made it first (read it), or no writable home: no cache
        try:
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None


Entries = dict[str, dict[str, list[Any]]]


def _mac(key: bytes, entries: Entries) -> str:
    blob = json.dumps(entries, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, blob, hashlib.sha256).hexdigest()


def _kept(memory: Memory, key: bytes) -> Entries:
    """The index's verdicts, when this user's loopkit wrote them (their MAC checks); else none."""
    data = memory.kind("signatures")
    entries, mac = data.get("signers"), data.get("mac")
    if not isinstance(entries, dict) or not isinstance(mac, str):
        return {}
    return entries if hmac.compare_digest(mac, _mac(key, entries)) else {}
