"""The stage-28 scene's shop database: one per demo folder, dropped at the end of the scene."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from venturegate.crews.stage28.demo import demo_database, drop_database, postgres_url


def test_two_demo_folders_get_two_databases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    one, two = demo_database(tmp_path / "one"), demo_database(tmp_path / "two")
    assert one != two and one == demo_database(Path("one"))  # a relative folder is the same folder
    assert one.startswith("stage28_demo_") and len(one) <= 63 and one.replace("_", "").isalnum()


def test_the_scene_database_is_made_and_dropped(pg28: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENTUREGATE_TEST_PERF_POSTGRES_URL", pg28)
    name = demo_database(tmp_path)
    url = postgres_url(name)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
    drop_database(url)
    drop_database(url)  # gone already: nothing to do
    base = url.rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres") as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
