"""The PostgreSQL test server: skipped without binaries, a failure under CI=true."""

from __future__ import annotations

import pytest

from adapter.testing.postgres import find_bin_dir
from tests.servers import postgres


def test_missing_postgres_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="not found"):
        postgres._unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")


def test_missing_postgres_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        postgres._unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")


def test_the_newest_installed_version_is_chosen() -> None:
    found = find_bin_dir()
    if found is None:
        pytest.skip("no PostgreSQL installed")
    assert (found / "initdb").exists()
    assert (found / "pg_ctl").exists()


@pytest.mark.postgres
def test_each_test_gets_a_fresh_empty_database(postgres_db_url: str, postgres_url: str) -> None:
    import psycopg

    assert postgres_db_url != postgres_url
    plain = postgres_db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)
