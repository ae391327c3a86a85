"""Stage-14 environment names: unique per workspace, within PostgreSQL's identifier limit, on the real servers."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from venturegate.crews.stage14.provision import NAME_MAX, EnvironmentRequest, LocalDriver, workspace_tag

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG = "postgresql+psycopg://postgres:secret@127.0.0.1:5432/venturegate_test"


def test_a_workspace_has_one_tag_whichever_way_its_database_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    here = workspace_tag(f"sqlite:///{tmp_path / 'vg.db'}")
    assert here == workspace_tag("sqlite:///vg.db")  # relative: the same file
    assert len(here) == 8 and int(here, 16) >= 0
    assert here != workspace_tag(f"sqlite:///{tmp_path / 'other' / 'vg.db'}")
    # A server: the password and the driver do not change the workspace; the database and the schema do.
    assert workspace_tag(PG) == workspace_tag("postgresql://postgres:rotated@127.0.0.1:5432/venturegate_test")
    assert workspace_tag(PG) != workspace_tag(PG.replace("venturegate_test", "venturegate"))
    assert workspace_tag(PG) != workspace_tag(PG + "?options=-csearch_path%3Dt_1")
    assert workspace_tag(PG + "?options=-csearch_path%3Dt_1") != workspace_tag(PG + "?options=-csearch_path%3Dt_2")


def test_names_stay_valid_identifiers_within_the_limit_or_are_refused() -> None:
    longest = EnvironmentRequest(9_999_999_999, "production", 999, prefix="p" * 16, workspace="0123abcd")
    assert longest.database == f"{'p' * 16}_0123abcd_v9999999999_production"
    for name in (longest.database, longest.login(999)):
        assert len(name.encode()) <= NAME_MAX and name.islower() and name.replace("_", "").isalnum()
    with pytest.raises(ValueError, match="longer than PostgreSQL's 63 bytes"):
        EnvironmentRequest(10**18, "production", 999, prefix="p" * 16, workspace="0123abcd")


def test_owner_marks_name_the_workspace_and_older_marks_still_parse() -> None:
    new = EnvironmentRequest(1, "dev", 0, prefix="vg", workspace="0123abcd")
    assert new.owner == "venturegate:vg:0123abcd:v1:dev"
    assert EnvironmentRequest.from_owner(new.owner) == new
    old = EnvironmentRequest.from_owner("venturegate:vg:v1:dev")  # recorded before workspaces were in the names
    assert (old.database, old.owner) == ("vg_v1_dev", "venturegate:vg:v1:dev")
    for bad in ("venturegate:vg:x1:dev", "other:vg:0123abcd:v1:dev", "venturegate:vg"):
        with pytest.raises(ValueError, match="not an environment owner mark"):
            EnvironmentRequest.from_owner(bad)


def test_venture_1_of_two_workspaces_gets_two_environments(tmp_path: Path) -> None:
    prefix = "t" + uuid.uuid4().hex[:8]
    one, two = (
        EnvironmentRequest(1, "dev", 1, prefix=prefix, workspace=workspace_tag(f"sqlite:///{tmp_path / w / 'vg.db'}"))
        for w in ("one", "two")
    )
    assert one.database != two.database and one.owner != two.owner
    driver = LocalDriver()  # the built-in service, as the crew runs it
    try:
        first, second = driver.provision(one), driver.provision(two)
        assert (first.database, second.database) == (one.database, two.database)
        assert first.redis_url != second.redis_url and first.logins_verified == second.logins_verified == 1
        driver.teardown(one)
        with psycopg.connect(ADMIN) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)).fetchall()
        assert [r[0] for r in rows] == [two.database]  # tearing one down left the other workspace's alone
        assert driver.probe(second)
    finally:
        driver.close()
        for request in (one, two):
            driver.teardown(request)
