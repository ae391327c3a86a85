"""`venturegate demo`: a fresh workspace and a day and a half in the life of a venture studio, step by step.

`run.py` runs it; the story is told by `story.py` (cast, clock, setup), `telemetry.py` (hourly data),
`beats.py` (people and crews), `rollback_scene.py` (the bad change and its rollback) and `report.py`
(notifications and summary); `workspace.py` prepares the folder. Its data is in `data.py`.
"""

from venturegate.demo.run import DemoSummary, run_demo
from venturegate.demo.story import HOURS, START
from venturegate.demo.workspace import MARKER

__all__ = ["HOURS", "MARKER", "START", "DemoSummary", "run_demo"]
