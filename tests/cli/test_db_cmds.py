"""``epj-adapter db upgrade | current | history | backup``, and ``run`` refusing a database
behind or ahead of the code (exit 2, naming the command to run), on SQLite and
PostgreSQL.

"Behind" is made as in :mod:`tests.store.test_alembic`: a test-only revision after the
head in a copy of the script directory, which :data:`adapter.store.db.SCRIPT_LOCATION` is
pointed at; or a database of the release before Alembic (version 2, filled with rows).
"Ahead" is a database stamped with a revision this code does not know.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from adapter.cli import config_cmds, main
from adapter.store import SchemaKind, Store, schema_state
from adapter.store import db as store_db
from adapter.store.db import HEAD
from adapter.tools.demo import prepare
from tests.store.test_alembic import (
    TEST_REVISION,
    assert_rows_kept,
    fill,
    scripts_with_a_second_revision,
)
from tests.store.test_migrations import FROM_LEGACY, _as_version_2

ROOT = Path(__file__).resolve().parents[2]


class Install:
    """The example configuration in a temporary folder, on SQLite or PostgreSQL."""

    def __init__(self, config: Path, url: str) -> None:
        self.config = config
        self.url = url

    def store(self) -> Store:
        """The installation's database (made as a start makes it, when empty)."""
        return Store(self.url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def install(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Install:
    """An installation whose database does not exist yet (or is an empty PG one)."""
    monkeypatch.delenv(config_cmds.CONFIG_ENV, raising=False)
    config = prepare(tmp_path / "install", ROOT / "config")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'install' / 'state' / 'adapter.db'}"
    else:
        url = request.getfixturevalue("postgres_db_url")
        adapter_toml = config / "adapter.toml"
        adapter_toml.write_text(
            adapter_toml.read_text(encoding="utf-8") + f'\n[database]\nurl = "{url}"\n',
            encoding="utf-8",
        )
    return Install(config, url)


def _filled(install: Install) -> Store:
    store = install.store()
    store.create_schema()
    fill(store)
    return store


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _behind(install: Install, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    store = _filled(install)  # at the head
    monkeypatch.setattr(store_db, "SCRIPT_LOCATION", scripts_with_a_second_revision(tmp_path))
    return store


# --- db upgrade, current, history -----------------------------------------------------


def test_upgrade_creates_the_schema_of_an_empty_database_and_current_says_so(
    install: Install, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, "db", "upgrade", "--config", str(install.config))
    assert code == 0, err
    assert f"upgraded from empty (no schema yet) to revision {HEAD} (current)" in out

    code, out, _ = _cli(capsys, "db", "current", "--config", str(install.config))
    assert code == 0
    assert out.strip().endswith(f"revision {HEAD} (current)")
    code, out, _ = _cli(capsys, "db", "current", "--json", "--config", str(install.config))
    shown = json.loads(out)
    assert (shown["revision"], shown["head"], shown["current"]) == (HEAD, HEAD, True)

    code, out, _ = _cli(capsys, "db", "upgrade", "--config", str(install.config))
    assert code == 0
    assert f"already at revision {HEAD} (current); nothing to do" in out


def test_history_lists_the_revisions_newest_first_marking_head_and_current(
    install: Install,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _behind(install, tmp_path, monkeypatch).dispose()
    code, out, _ = _cli(capsys, "db", "history", "--config", str(install.config))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        f"{HEAD} -> {TEST_REVISION} (head): "
        "Test only: a nickname for practitioners, an index on clinics."
    )
    assert lines[1].startswith(f"0003 -> {HEAD} (current): Appointments by slot")
    assert lines[2].startswith("0002 -> 0003: Pending releases")
    assert lines[3].startswith("0001 -> 0002: Book versions")
    assert lines[-1].startswith("<base> -> 0001: Baseline: schema version 3")
    code, out, _ = _cli(capsys, "db", "history", "--json", "--config", str(install.config))
    rows = json.loads(out)
    assert [(r["revision"], r["head"], r["current"]) for r in rows] == [
        (TEST_REVISION, True, False),
        (HEAD, False, True),
        ("0003", False, False),
        ("0002", False, False),
        ("0001", False, False),
    ]


def test_current_of_a_missing_sqlite_database_says_run_creates_it(
    install: Install, capsys: pytest.CaptureFixture[str]
) -> None:
    if not install.url.startswith("sqlite"):
        pytest.skip("a missing file")
    code, _, err = _cli(capsys, "db", "current", "--config", str(install.config))
    assert code == 1
    assert "no database at" in err
    assert "`epj-adapter run` creates it" in err


# --- a database of the previous release ------------------------------------------------


def test_a_version_2_database_is_refused_by_run_and_upgraded_by_db_upgrade(
    install: Install, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _filled(install)
    _as_version_2(store)  # as the release before Alembic left it, with its rows
    config = str(install.config)

    code, out, _ = _cli(capsys, "db", "current", "--config", config)
    assert code == 1
    assert "schema version 2 of a release before migrations" in out
    assert f"run `epj-adapter db upgrade --config {config}`" in out

    code, _, err = _cli(capsys, "run", "--config", config)
    assert code == 2
    assert "schema version 2 of a release before migrations" in err
    assert f"epj-adapter db upgrade --config {config}" in err
    assert schema_state(store.engine).kind is SchemaKind.LEGACY  # refused: unchanged

    code, out, err = _cli(capsys, "db", "upgrade", "--json", "--config", config)
    assert code == 0, err
    done = json.loads(out)
    assert done["before"]["schema_version"] == 2
    assert done["applied"] == list(FROM_LEGACY)
    assert done["after"]["current"] is True
    assert_rows_kept(store)
    store.dispose()


# --- behind and ahead -------------------------------------------------------------------


def test_run_refuses_a_database_behind_the_code_naming_db_upgrade(
    install: Install,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = _behind(install, tmp_path, monkeypatch)
    config = str(install.config)

    code, _, err = _cli(capsys, "run", "--config", config)
    assert code == 2
    assert f"revision {HEAD}, this adapter needs revision {TEST_REVISION}" in err
    assert "the database is behind the code" in err
    assert f"epj-adapter db upgrade --config {config}" in err

    code, _, err = _cli(capsys, "status", "--config", config)
    assert code == 1
    assert f"run `epj-adapter db upgrade --config {config}`" in err
    code, out, _ = _cli(capsys, "doctor", "--config", config)
    database = next(line for line in out.splitlines() if "database" in line[:20])
    assert database.startswith("fail")
    assert f"behind the code's {TEST_REVISION}" in database

    code, out, err = _cli(capsys, "db", "upgrade", "--config", config)
    assert code == 0, err
    assert f"to revision {TEST_REVISION} (current) (applied {TEST_REVISION})" in out
    assert_rows_kept(store)
    code, out, _ = _cli(capsys, "status", "--json", "--config", config)
    assert code == 0
    assert json.loads(out)["schema"]["revision"] == TEST_REVISION
    store.dispose()


def test_run_and_upgrade_refuse_a_database_ahead_of_the_code(
    install: Install, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _filled(install)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    store.dispose()
    config = str(install.config)

    code, _, err = _cli(capsys, "run", "--config", config)
    assert code == 2
    assert "the code is older than the database" in err
    code, _, err = _cli(capsys, "db", "upgrade", "--config", config)
    assert code == 2
    assert "the code is older than the database" in err
    code, out, _ = _cli(capsys, "db", "current", "--config", config)
    assert code == 1
    assert "revision ffffffffffff, unknown to this adapter" in out


# --- db backup -----------------------------------------------------------------------------


def test_backup_copies_a_sqlite_database_that_opens_and_holds_the_rows(
    install: Install, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not install.url.startswith("sqlite"):
        pytest.skip("SQLite's online backup")
    _filled(install).dispose()
    target = tmp_path / "backup.db"
    code, out, err = _cli(capsys, "db", "backup", str(target), "--config", str(install.config))
    assert code == 0, err
    assert f"to {target} (" in out

    copy = Store(f"sqlite:///{target}")
    try:
        assert schema_state(copy.engine).current
        assert_rows_kept(copy)
    finally:
        copy.dispose()

    code, _, err = _cli(capsys, "db", "backup", str(target), "--config", str(install.config))
    assert code == 2
    assert "exists" in err
    code, _, err = _cli(
        capsys, "db", "backup", str(target), "--force", "--json", "--config", str(install.config)
    )
    assert code == 0, err


def test_backup_of_postgresql_names_pg_dump_without_the_password(
    install: Install, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if install.url.startswith("sqlite"):
        pytest.skip("PostgreSQL")
    target = tmp_path / "adapter.dump"
    code, out, err = _cli(capsys, "db", "backup", str(target), "--config", str(install.config))
    assert code == 2
    assert out == ""
    assert f"pg_dump --format=custom --file={target} postgresql://" in err
    password = make_url(store_db.normalise_url(install.url)).password
    if password:
        assert str(password) not in err
