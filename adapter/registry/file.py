"""The routing file (``routing.toml``): parties as the Adresseregister and CPP/CPA give them.

Layout (see ``config/routing.toml`` for a commented example)::

    [parties.8142519]                      # a HER-id (level 1)
    name = "DDFL Ehelse Interntest med Mock"
    kind = "organisation"                  # organisation | service | person
    active = true                          # default true
    signing_cert = "certs/clinic-signing.pem"        # PEM, relative to this file
    encryption_cert = "certs/clinic-encryption.pem"

    [parties.8142519.queues]
    async = "8142519_async"
    sync = "8142519_sync"
    error = "8142519_error"
    syncreply = "8142519_syncreply"

    [parties.8142520]                      # level 2: a GP under the clinic
    parent = "8142519"                     # queues and certificates not given are the parent's
    name = "Benedikte Geiran"
    kind = "person"

    [parties.8142520.processes]
    Dialog_Innbygger_Timereservasjon = { version = "1.2", role = "Helsepersonell" }

Private keys never belong here: they are referenced by path in ``adapter.toml``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from adapter.registry.party import CommunicationParty, PartyKind, ProcessSupport, Queues
from adapter.registry.registry import RegistryBase, UnknownParty

__all__ = ["FileRegistry", "RoutingFileError"]

_HER_ID: Final = re.compile(r"^[0-9]{1,9}$")
PARTY_KEYS: Final = frozenset(
    {"name", "kind", "parent", "active", "queues", "signing_cert", "encryption_cert", "processes"}
)
QUEUE_KEYS: Final = ("async", "sync", "error", "syncreply")
_KEYISH: Final = re.compile(r"(private|_key$|^key$|password|secret)", re.IGNORECASE)


class RoutingFileError(Exception):
    """The routing file cannot be used; ``problems`` lists each mistake (one line each)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{path.name}: {problems[0]}{more}")


class FileRegistry(RegistryBase):
    """Parties from a TOML routing file, resolved (parents' queues and certificates) at load."""

    def __init__(self, parties: Mapping[str, CommunicationParty], path: Path | None = None):
        self._parties = dict(parties)
        self.path = path

    @classmethod
    def load(cls, path: Path) -> FileRegistry:
        """Read and resolve ``path``; raises :class:`RoutingFileError` listing every mistake."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RoutingFileError(path, [f"cannot read the routing file: {exc.strerror}"]) from exc
        except UnicodeDecodeError as exc:
            raise RoutingFileError(path, ["the routing file is not UTF-8 text"]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise RoutingFileError(path, [f"not valid TOML: {exc}"]) from exc
        return cls.from_dict(data, base_dir=path.parent, path=path)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, base_dir: Path, path: Path | None = None
    ) -> FileRegistry:
        """Build from parsed TOML (relative certificate paths are relative to ``base_dir``)."""
        reader = _Reader(base_dir)
        raw = reader.parties(data)
        resolved = reader.resolve(raw)
        if reader.problems:
            raise RoutingFileError(path or base_dir / "routing.toml", reader.problems)
        return cls(resolved, path)

    def lookup(self, her_id: str) -> CommunicationParty:
        """The party, or raise :class:`UnknownParty`."""
        try:
            return self._parties[str(her_id)]
        except KeyError:
            raise UnknownParty(str(her_id)) from None

    def parties(self) -> Iterator[CommunicationParty]:
        """Every party in the file, in file order."""
        return iter(self._parties.values())

    def __contains__(self, her_id: object) -> bool:
        return str(her_id) in self._parties

    def __len__(self) -> int:
        return len(self._parties)


class _Reader:
    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.problems: list[str] = []
        self.parents: dict[str, str] = {}

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"[{where}] {message}")

    def parties(self, data: Mapping[str, Any]) -> dict[str, CommunicationParty]:
        for key in data:
            if key != "parties":
                self.problem(key, "unknown top-level key; parties go under [parties.<HER-id>]")
        table = data.get("parties", {})
        if not isinstance(table, dict) or not table:
            self.problem("parties", "no parties: add at least [parties.<HER-id>]")
            return {}
        out: dict[str, CommunicationParty] = {}
        for her_id, entry in table.items():
            where = f"parties.{her_id}"
            if not _HER_ID.match(her_id):
                self.problem(where, "a HER-id is 1 to 9 digits")
                continue
            if not isinstance(entry, dict):
                self.problem(where, "must be a table")
                continue
            party = self.party(her_id, entry, where)
            if party is not None:
                out[her_id] = party
        return out

    def text(self, entry: Mapping[str, Any], key: str, where: str) -> str | None:
        value = entry.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{where}.{key}", "must be a non-empty text in quotes")
            return None
        return value.strip()

    def path(self, entry: Mapping[str, Any], key: str, where: str) -> Path | None:
        value = self.text(entry, key, where)
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def party(self, her_id: str, entry: Mapping[str, Any], where: str) -> CommunicationParty | None:
        for key in entry:
            if key in PARTY_KEYS:
                continue
            if _KEYISH.search(key):
                self.problem(
                    f"{where}.{key}",
                    "private keys never go in the routing file: reference them from "
                    "adapter.toml [cms]",
                )
            else:
                self.problem(
                    f"{where}.{key}", f"unknown key; known: {', '.join(sorted(PARTY_KEYS))}"
                )
        name = self.text(entry, "name", where)
        if name is None:
            self.problem(f"{where}.name", 'missing: add name = "..." as in the Adresseregister')
            name = her_id
        kind_text = self.text(entry, "kind", where) or "organisation"
        try:
            kind = PartyKind(kind_text)
        except ValueError:
            self.problem(f"{where}.kind", "must be organisation, service or person")
            kind = PartyKind.ORGANISATION
        parent = entry.get("parent")
        if parent is not None:
            if not isinstance(parent, str) or not _HER_ID.match(parent):
                self.problem(f"{where}.parent", "must be a HER-id in quotes")
                parent = None
            elif parent == her_id:
                self.problem(f"{where}.parent", "a party cannot be its own parent")
                parent = None
            else:
                self.parents[her_id] = parent
        active = entry.get("active", True)
        if not isinstance(active, bool):
            self.problem(f"{where}.active", "must be true or false")
            active = True
        return CommunicationParty(
            her_id=her_id,
            name=name,
            kind=kind,
            parent_her_id=parent,
            active=active,
            queues=self.queues(entry.get("queues"), f"{where}.queues"),
            signing_cert_path=self.path(entry, "signing_cert", where),
            encryption_cert_path=self.path(entry, "encryption_cert", where),
            processes=self.processes(entry.get("processes"), f"{where}.processes"),
        )

    def queues(self, table: object, where: str) -> Queues:
        if table is None:
            return Queues()
        if not isinstance(table, dict):
            self.problem(where, "must be a table: async, sync, error, syncreply")
            return Queues()
        for key in table:
            if key not in QUEUE_KEYS:
                self.problem(f"{where}.{key}", f"unknown queue; known: {', '.join(QUEUE_KEYS)}")
        names = {key: self.text(table, key, where) for key in QUEUE_KEYS}
        return Queues(
            async_queue=names["async"],
            sync_queue=names["sync"],
            error_queue=names["error"],
            syncreply_queue=names["syncreply"],
        )

    def processes(self, table: object, where: str) -> Mapping[str, ProcessSupport]:
        if table is None:
            return MappingProxyType({})
        if not isinstance(table, dict):
            self.problem(where, 'must be a table: Process_Name = { version = "1.2", role = "..." }')
            return MappingProxyType({})
        out: dict[str, ProcessSupport] = {}
        for name, spec in table.items():
            at = f"{where}.{name}"
            if not isinstance(spec, dict):
                self.problem(at, 'must be { version = "1.2", role = "Helsepersonell" }')
                continue
            version = spec.get("version")
            role = spec.get("role")
            if isinstance(version, int | float) and not isinstance(version, bool):
                self.problem(f"{at}.version", f'write the version in quotes: version = "{version}"')
                continue
            if not isinstance(version, str) or not re.match(r"^\d+(\.\d+)*$", version):
                self.problem(f"{at}.version", 'missing or not like "1.2"')
                continue
            if not isinstance(role, str) or not role.strip():
                self.problem(f"{at}.role", 'missing: role = "Helsepersonell" or "Innbygger"')
                continue
            extra = set(spec) - {"version", "role"}
            if extra:
                self.problem(at, f"unknown keys {', '.join(sorted(extra))}; known: version, role")
            if any(k.casefold() == name.casefold() for k in out):
                self.problem(at, "process listed twice")
                continue
            out[name] = ProcessSupport(version=version, role=role.strip())
        return MappingProxyType(out)

    def resolve(self, raw: dict[str, CommunicationParty]) -> dict[str, CommunicationParty]:
        """Check the two-level hierarchy and fill in what level-2 parties inherit."""
        out: dict[str, CommunicationParty] = {}
        for her_id, party in raw.items():
            parent_id = party.parent_her_id
            if parent_id is None:
                out[her_id] = party
                continue
            parent = raw.get(parent_id)
            if parent is None:
                self.problem(
                    f"parties.{her_id}.parent",
                    f"parent {parent_id} is not in the routing file: add [parties.{parent_id}]",
                )
                out[her_id] = party
                continue
            if parent.parent_her_id is not None:
                self.problem(
                    f"parties.{her_id}.parent",
                    f"parent {parent_id} is itself under {parent.parent_her_id}; "
                    "the Adresseregister has two levels",
                )
            out[her_id] = replace(
                party,
                queues=party.queues.inherit(parent.queues),
                signing_cert_path=party.signing_cert_path or parent.signing_cert_path,
                encryption_cert_path=party.encryption_cert_path or parent.encryption_cert_path,
            )
        return out
