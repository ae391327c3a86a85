"""benchmarks/concurrency.py at a small size: N client processes against one PostgreSQL (issue 21, item 2)."""

from __future__ import annotations

from importlib import metadata

import pytest
from benchmarks.concurrency import run
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL


def test_two_clients_run_every_phase_and_the_figures_add_up(postgres_ok: bool) -> None:
    if not postgres_ok:
        pytest.skip("PostgreSQL not reachable (set VENTUREGATE_TEST_POSTGRES_URL; `make test` does)")
    admin = make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)
    doc = run(admin, [2], 0.5, {"batch": 50, "ventures": 5})
    (row,) = doc["results"]
    process, ingest = row["process"], row["ingest"]
    assert process["clients"] == 2 and process["processes"] >= 2  # each client finishes at least one process
    # Every process: three recursions and an escalation, each a firing `record_sample` call.
    assert process["detection_ms"]["n"] == 4 * process["processes"]
    assert process["transactions"] == 8 * process["processes"]
    assert 0 < process["transaction_p50_ms"] <= process["transaction_p99_ms"]
    assert ingest["samples"] > 0 and ingest["samples"] % 50 == 0
    # The server's floor: per process as many durable transactions as venturegate's, each one INSERT and a COMMIT.
    floor = row["floor"]
    assert floor["processes"] >= 2 and floor["transactions"] == 8 * floor["processes"]
    assert row["share_of_floor"] == round(process["processes_per_s"] / floor["processes_per_s"], 2)
    # Durable commits: the server runs with fsync and synchronous commit. (Its WAL counters are not checked here:
    # PostgreSQL's backends flush their statistics at most once a second, so a 0.5 s phase may not show them yet.)
    assert (doc["server"]["fsync"], doc["server"]["synchronous_commit"]) == ("on", "on")
    try:
        metadata.version("SpiffWorkflow")
    except metadata.PackageNotFoundError:
        assert "not installed" in doc["spiffworkflow"] and "spiffworkflow" not in row
    else:
        peer = row["spiffworkflow"]
        assert peer["processes"] >= 2 and peer["transactions"] == 5 * peer["processes"]
        assert row["ratio_to_spiffworkflow"] == round(process["processes_per_s"] / peer["processes_per_s"], 2)
        # The 5× goal says whether it lies above the floor, from the figures of the same N.
        five = doc["goals"]["at_least_5x_spiffworkflow_at_every_n"]
        assert five["needed_processes_per_s"] == {2: round(5 * peer["processes_per_s"], 1)}
        assert five["beyond_the_server"] == {2: floor["processes_per_s"] < five["needed_processes_per_s"][2]}
