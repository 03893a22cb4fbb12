"""The instructor's schedule: each lesson's minutes, split into teaching and exercises, and the
ready routes through the course, all computed from the notebooks by the reading model.

``python -m inferlab.teaching --write docs/instructor/README.md`` rewrites the tables that
stand between ``<!-- schedule:begin -->`` and ``<!-- schedule:end -->`` (and the routes'
block likewise); without ``--write`` it prints them. A test holds the guide equal to what
this module computes, so a lesson that grows or shrinks cannot leave the guide behind.

Minutes are :mod:`inferlab.reading_time`'s (one learner alone). In a room, exercises take
longer: learners type, err and ask. Routes plan each exercise at ``ROOM_FACTOR`` times the
reading model's minutes, an assumption to adjust after a first run.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import reading_time
from .course import LESSONS

__all__ = ["LessonMinutes", "Route", "ROUTES", "lesson_minutes", "schedule_table", "routes_table",
           "refresh", "main"]

ROOM_FACTOR = 1.5
_CHECK = re.compile(r"(?<!\w)check\(\s*[\"'](\d\d\.[a-z0-9-]+)[\"']")


@dataclass(frozen=True)
class LessonMinutes:
    """One lesson's minutes by the reading model: ``teaching`` (prose, code, explorers) and
    ``exercises``, for the core alone and for everything; the exercise ids of each part."""

    number: str
    title: str
    core_teaching: float
    core_exercises: float
    all_teaching: float
    all_exercises: float
    core_ids: tuple
    deeper_ids: tuple
    split: bool  # False while the lesson has no cell tagged deeper

    @property
    def core(self) -> float:
        return self.core_teaching + self.core_exercises

    @property
    def everything(self) -> float:
        return self.all_teaching + self.all_exercises


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _is_exercise(cell) -> bool:
    return cell.get("cell_type") == "code" and bool(_CHECK.search(_source(cell)))


def lesson_minutes(notebooks="solutions") -> list:
    """A :class:`LessonMinutes` for each lesson notebook in the folder ``notebooks``."""
    titles = {n: title for n, _, title, _ in LESSONS}
    rows = []
    paths = sorted(Path(notebooks).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise ValueError(f"notebooks: no lesson notebooks in {notebooks}")
    for path in paths:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        parts = {(deep, ex): 0.0 for deep in (False, True) for ex in (False, True)}
        ids = {False: [], True: []}
        for cell in cells:
            deep, exercise = reading_time.is_deeper(cell), _is_exercise(cell)
            parts[deep, exercise] += reading_time.cell_minutes(cell)
            if exercise:
                ids[deep] += _CHECK.findall(_source(cell))
        number = path.name[:2]
        rows.append(LessonMinutes(
            number=number, title=titles.get(number, path.stem),
            core_teaching=parts[False, False], core_exercises=parts[False, True],
            all_teaching=parts[False, False] + parts[True, False],
            all_exercises=parts[False, True] + parts[True, True],
            core_ids=tuple(ids[False]), deeper_ids=tuple(ids[True]),
            split=any(reading_time.is_deeper(c) for c in cells)))
    return rows


@dataclass(frozen=True)
class Route:
    """A ready route: the lessons it takes, each as ``"core"`` or ``"all"``; ``talk`` routes
    demonstrate and set no exercises; ``overhead`` minutes cover welcome, setup and breaks."""

    name: str
    slot_minutes: int
    parts: dict
    overhead: int
    talk: bool = False
    note: str = ""


_ALL = [n for n, *_ in LESSONS]
ROUTES = (
    Route("90-minute talk with live demos", 90,
          {n: "core" for n in ("01", "02", "06", "07", "08", "09", "10", "11")}, overhead=5, talk=True,
          note="the instructor runs each core and its explorer; no learner exercises"),
    Route("3-hour workshop", 180, {n: "core" for n in _ALL[1:]}, overhead=30,
          note="every core with its exercise; lesson 00 as the 10 minutes of setup; two 10-minute breaks"),
    Route("Half day (4 hours)", 240,
          {**{n: "core" for n in _ALL[1:]}, "03": "all", "06": "all"}, overhead=40,
          note="the workshop, with lesson 03 (measure your machine) and 06 (batching) in full; "
               "three breaks"),
    Route("Two days (2 x 6 hours)", 720, {n: "all" for n in _ALL}, overhead=150,
          note="everything, every exercise; breaks, lunch and a discussion per day"),
)


def _route_minutes(route: Route, lessons) -> float:
    by_number = {l.number: l for l in lessons}
    total = float(route.overhead)
    for number, part in route.parts.items():
        lesson = by_number.get(number)
        if lesson is None:
            continue
        teaching = lesson.core_teaching if part == "core" else lesson.all_teaching
        exercises = lesson.core_exercises if part == "core" else lesson.all_exercises
        total += teaching + (0.0 if route.talk else ROOM_FACTOR * exercises)
    return total


def _ids(ids) -> str:
    return ", ".join(f"`{i}`" for i in ids) if ids else "—"


def schedule_table(lessons) -> str:
    """The per-lesson table (Markdown): minutes by the reading model and the exercise ids."""
    lines = ["| lesson | core: teaching + exercises | everything: teaching + exercises | core exercises "
             "| Going-deeper exercises |",
             "|---|---:|---:|---|---|"]
    for l in lessons:
        mark = "" if l.split else " (not split yet)"
        lines.append(f"| {l.number} {l.title}{mark} | {l.core:.0f} = {l.core_teaching:.0f} + {l.core_exercises:.0f} "
                     f"| {l.everything:.0f} = {l.all_teaching:.0f} + {l.all_exercises:.0f} "
                     f"| {_ids(l.core_ids)} | {_ids(l.deeper_ids)} |")
    core = sum(l.core for l in lessons)
    everything = sum(l.everything for l in lessons)
    lines.append(f"| **all lessons** | **{core:.0f}** | **{everything:.0f}** | | |")
    return "\n".join(lines)


def routes_table(lessons) -> str:
    """The routes (Markdown): what each takes and its planned minutes against its slot."""
    lines = ["| route | lessons | planned minutes | slot | what it is |", "|---|---|---:|---:|---|"]
    for route in ROUTES:
        parts = ", ".join(f"{n}{'' if p == 'core' else ' (all)'}" for n, p in route.parts.items())
        planned = math.ceil(_route_minutes(route, lessons))
        lines.append(f"| {route.name} | {parts} | {planned} | {route.slot_minutes} | {route.note} |")
    return "\n".join(lines)


_BLOCK = "<!-- {name}:begin -->\n{body}\n<!-- {name}:end -->"


def refresh(text: str, lessons) -> str:
    """``text`` with its schedule and routes blocks replaced by freshly computed tables; a
    ``ValueError`` if either pair of markers is missing."""
    for name, body in (("schedule", schedule_table(lessons)), ("routes", routes_table(lessons))):
        pattern = re.compile(rf"<!-- {name}:begin -->\n.*?<!-- {name}:end -->", re.S)
        if not pattern.search(text):
            raise ValueError(f"text has no <!-- {name}:begin --> ... <!-- {name}:end --> block")
        text = pattern.sub(lambda _: _BLOCK.format(name=name, body=body), text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inferlab.teaching",
                                     description="The instructor guide's schedule and routes, computed.")
    parser.add_argument("--notebooks", default="solutions", help="lesson notebooks (default: solutions)")
    parser.add_argument("--write", metavar="GUIDE", help="rewrite the tables inside this Markdown file")
    args = parser.parse_args(argv)
    lessons = lesson_minutes(args.notebooks)
    if args.write:
        path = Path(args.write)
        path.write_text(refresh(path.read_text(encoding="utf-8"), lessons), encoding="utf-8")
        print(f"refreshed the schedule and routes in {path}")
    else:
        print(schedule_table(lessons) + "\n\n" + routes_table(lessons))
    return 0


if __name__ == "__main__":
    sys.exit(main())
