"""How long `make demo` takes: the story alone (the peer, `--no-crews`) and the whole demo with its crew scenes.

The tests check what the demo does (`tests/test_demo.py`, `tests/test_demo_crews.py`); its times are measured
here. Goals: the story well within a minute; the stage-19 scene (two crew runs, defective then fixed provider)
under a minute. Each scene reports its own seconds; the stage-30 and stage-28 scenes are skipped (and reported
as null) when HAProxy or the stage-28 PostgreSQL are missing (`make demo` installs both).

    .venv/bin/python benchmarks/demo.py              # story, then the whole demo
    .venv/bin/python benchmarks/demo.py --no-crews   # the story only
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from venturegate.demo import run_demo

GOAL_STORY_S = 60.0
GOAL_STAGE19_S = 60.0


def timed(folder: Path, crews: bool) -> dict[str, Any]:
    """One demo run into `folder` (its printout discarded): wall seconds and each scene's own seconds."""
    began = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        summary = run_demo(folder, crews=crews)
    seconds = round(time.perf_counter() - began, 1)
    scenes: dict[str, float | None] = {}
    if crews:
        for stage, got in (
            ("14", summary.stage14),
            ("19", summary.stage19),
            ("17", summary.stage17),
            ("30", summary.stage30),
            ("28", summary.stage28),
        ):
            scenes[stage] = None if got is None else got.get("seconds", got.get("wall_seconds"))
    return {"seconds": seconds, "scenes": scenes} if crews else {"seconds": seconds}


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-crews", action="store_true", help="time the story only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        story = timed(Path(tmp) / "story", crews=False)
        print(json.dumps({"story": story}), flush=True)
        report: dict[str, Any] = {"peer_story_only": story}
        goals = {"story_within_a_minute": story["seconds"] < GOAL_STORY_S}
        if not args.no_crews:
            whole = timed(Path(tmp) / "whole", crews=True)
            report["whole_demo"] = whole
            report["crew_scenes_seconds"] = round(whole["seconds"] - story["seconds"], 1)
            stage19 = whole["scenes"].get("19")
            goals["stage19_scene_under_a_minute"] = stage19 is not None and stage19 < GOAL_STAGE19_S
        report["goals"] = goals
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
