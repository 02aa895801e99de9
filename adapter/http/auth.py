"""Bearer tokens: a TOML file of entries, each a name, the token's SHA-256, a role and
the clinics it may reach.

::

    [[tokens]]
    name = "epj"                      # the actor in the audit trail: http:epj
    sha256 = "9f86d08..."             # sha256 of the token, hex (epj-adapter never stores it)
    role = "epj"                      # epj | admin | read (read may only GET)
    clinics = ["ddfl"]                # clinic keys; any other clinic is 404

The file holds hashes only, so it can be read by ops without revealing a token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, cast

Role = Literal["epj", "admin", "read"]
ROLES: Final[tuple[Role, ...]] = ("epj", "admin", "read")
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


class TokenFileError(ValueError):
    """The tokens file cannot be read or breaks a rule (one line says where)."""


@dataclass(frozen=True, slots=True)
class Token:
    """One token's entry (the token itself is never kept, only its SHA-256)."""

    name: str
    sha256: str
    role: Role
    clinics: frozenset[str]

    @property
    def may_write(self) -> bool:
        """``epj`` and ``admin`` tokens may change things; ``read`` tokens only GET."""
        return self.role != "read"

    @property
    def actor(self) -> str:
        """Who the audit trail names for this token's writes."""
        return f"http:{self.name}"


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as the tokens file holds it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Tokens:
    """The tokens of one file, looked up by the presented token."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self._tokens = tuple(tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def find(self, presented: str) -> Token | None:
        """The entry whose hash is the presented token's (compared in constant time)."""
        digest = hash_token(presented)
        found = None
        for token in self._tokens:
            if hmac.compare_digest(token.sha256, digest):
                found = token
        return found


def load_tokens(path: Path) -> Tokens:
    """Read the tokens file.

    Raises:
        TokenFileError: the file is missing or not TOML, or an entry lacks a name, has a
            hash that is not 64 hex digits, an unknown role, no clinics, or a name or
            hash used twice.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TokenFileError(f"{path}: cannot read the tokens file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TokenFileError(f"{path}: not TOML ({exc})") from None
    entries = data.get("tokens", [])
    if not isinstance(entries, list):
        raise TokenFileError(f"{path}: write each token as a [[tokens]] table")
    tokens = [_entry(path, index, entry) for index, entry in enumerate(entries)]
    names, digests = [t.name for t in tokens], [t.sha256 for t in tokens]
    for what, values in (("name", names), ("sha256", digests)):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            shown = twice if what == "name" else [v[:8] + "..." for v in twice]
            raise TokenFileError(f"{path}: {what} used by two tokens: {', '.join(shown)}")
    return Tokens(tokens)


def _entry(path: Path, index: int, entry: object) -> Token:
    where = f"{path}: tokens[{index}]"
    if not isinstance(entry, dict):
        raise TokenFileError(f"{where}: not a table")
    unknown = sorted(set(entry) - {"name", "sha256", "role", "clinics"})
    if unknown:
        raise TokenFileError(f"{where}: unknown key {', '.join(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise TokenFileError(f'{where}: name missing (e.g. name = "epj")')
    digest = entry.get("sha256")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
        raise TokenFileError(f"{where} ({name}): sha256 must be 64 hex digits")
    role = entry.get("role")
    if role not in ROLES:
        raise TokenFileError(f"{where} ({name}): role must be one of {', '.join(ROLES)}")
    clinics = entry.get("clinics")
    if (
        not isinstance(clinics, list)
        or not clinics
        or not all(isinstance(c, str) and c for c in clinics)
    ):
        raise TokenFileError(f'{where} ({name}): clinics must list clinic keys (["ddfl"])')
    return Token(name, digest.lower(), cast(Role, role), frozenset(cast(Sequence[str], clinics)))
