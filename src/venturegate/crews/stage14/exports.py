"""The sprint plan as files other tools import: a CSV for Jira's CSV importer and GitHub issues as JSON.

The CSV has one row per story with the columns Jira's importer maps by name (Issue Type, Summary,
Description, Priority, Story Points, Labels, Sprint) plus Issue ID and Parent-free "Depends On" text;
`csv` quotes every field, so a title with commas, quotes or newlines stays one field. The JSON is a list
of bodies for GitHub's "create an issue" endpoint (title, body, labels, milestone title).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from venturegate.crews.stage14.backlog import Story

JIRA_PRIORITY = {"must": "Highest", "should": "High", "could": "Medium", "wont": "Low"}
COLUMNS = ["Issue ID", "Issue Type", "Summary", "Description", "Priority", "Story Points", "Labels", "Sprint",
           "Depends On"]  # fmt: skip


def _description(story: Story) -> str:
    lines = ["Acceptance criteria:"] + [f"* {c}" for c in story.acceptance_criteria]
    return "\n".join(lines)


def jira_csv(stories: list[Story], sprint_of: dict[str, int], *, venture: str) -> str:
    """The Jira CSV (header row, then one row per story, in sprint order)."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(COLUMNS)
    ordered = sorted(stories, key=lambda s: (sprint_of.get(s.id, 10**6), s.id))
    for s in ordered:
        k = sprint_of.get(s.id)
        writer.writerow([
            s.id, "Story", s.title, _description(s), JIRA_PRIORITY[s.priority], f"{s.points:g}",
            f"epic-{s.epic} {venture}".replace(",", " "), "" if k is None else f"Sprint {k + 1}",
            " ".join(s.depends_on),
        ])  # fmt: skip
    return buf.getvalue()


def github_issues(stories: list[Story], sprint_of: dict[str, int]) -> list[dict[str, Any]]:
    """GitHub 'create an issue' bodies, one per story."""
    issues = []
    for s in sorted(stories, key=lambda s: (sprint_of.get(s.id, 10**6), s.id)):
        k = sprint_of.get(s.id)
        body = _description(s).replace("* ", "- [ ] ")
        if s.depends_on:
            body += "\n\nDepends on: " + ", ".join(s.depends_on)
        body += f"\n\nStory points: {s.points:g} · backlog id {s.id}"
        issue: dict[str, Any] = {"title": s.title, "body": body, "labels": [f"priority:{s.priority}", f"epic:{s.epic}"]}
        if k is not None:
            issue["milestone"] = f"Sprint {k + 1}"
        issues.append(issue)
    return issues


def github_json(stories: list[Story], sprint_of: dict[str, int]) -> str:
    """`github_issues` as indented JSON."""
    return json.dumps(github_issues(stories, sprint_of), indent=2, ensure_ascii=False)
