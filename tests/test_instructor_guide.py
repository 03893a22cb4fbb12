"""The instructor guide and the setup pages (docs/): computed schedule, routes that fit,
notes for every exercise, links that resolve, money escaped."""
import json
import re
from pathlib import Path

import pytest

from inferlab import reading_time, teaching
from inferlab.exercises import exercises_for

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDE = DOCS / "instructor" / "README.md"
NOTES = DOCS / "instructor" / "lessons.md"
LESSONS = teaching.lesson_minutes(ROOT / "solutions")
ALL_SPLIT = all(l.split for l in LESSONS)


def test_guide_tables_are_what_the_notebooks_give():
    text = GUIDE.read_text(encoding="utf-8")
    assert text == teaching.refresh(text, LESSONS), \
        "the guide's schedule is stale: python -m inferlab.teaching --write docs/instructor/README.md"


def test_minutes_by_hand(tmp_path):
    words = " ".join(["word"] * 240)  # 2 minutes at 120 words a minute
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": words},
        {"cell_type": "code", "metadata": {}, "source": 'x = 1\nil.check("02.ridge-h200", x)'},
        {"cell_type": "code", "metadata": {"tags": ["deeper"]}, "source": "explorer.widget()"},
        {"cell_type": "code", "metadata": {"tags": ["deeper"]}, "source": 'il.check("02.w8a16-knee", y)'},
        {"cell_type": "code", "metadata": {}, "source": "print(1)"},
    ]
    (tmp_path / "02_roofline.ipynb").write_text(json.dumps({"cells": cells}))
    (lesson,) = teaching.lesson_minutes(tmp_path)
    assert (lesson.core_teaching, lesson.core_exercises) == (2.5, 3.0)
    assert (lesson.all_teaching, lesson.all_exercises) == (4.5, 6.0)
    assert lesson.core_ids == ("02.ridge-h200",) and lesson.deeper_ids == ("02.w8a16-knee",)
    assert lesson.split and lesson.title == "The roofline"
    assert lesson.everything == reading_time.minutes(json.loads((tmp_path / "02_roofline.ipynb").read_text()))
    talk = teaching.Route("t", 90, {"02": "all"}, overhead=5, talk=True)
    workshop = teaching.Route("w", 90, {"02": "core"}, overhead=10)
    assert teaching._route_minutes(talk, [lesson]) == 5 + 4.5
    assert teaching._route_minutes(workshop, [lesson]) == 10 + 2.5 + 1.5 * 3.0
    with pytest.raises(ValueError, match="notebooks"):
        teaching.lesson_minutes(tmp_path / "nothing")
    with pytest.raises(ValueError, match="schedule"):
        teaching.refresh("no markers here", [lesson])


@pytest.mark.skipif(not ALL_SPLIT, reason="the lessons are not split into core and Going deeper yet "
                    "(no cell tagged deeper): routes are planned from the cores")
@pytest.mark.parametrize("route", teaching.ROUTES, ids=lambda r: r.name)
def test_every_route_fits_its_slot(route):
    assert teaching._route_minutes(route, LESSONS) <= route.slot_minutes


def _noted_ids():
    return set(re.findall(r"`(\d\d\.[a-z0-9-]+)`", NOTES.read_text(encoding="utf-8")))


def test_notes_name_only_real_exercises_and_cover_every_lesson():
    registered = {e.qid for n in {l.number for l in LESSONS} for e in exercises_for(n)}
    assert _noted_ids() <= registered, f"notes for unknown exercises: {sorted(_noted_ids() - registered)}"
    headings = re.findall(r"^## (\d\d) ", NOTES.read_text(encoding="utf-8"), re.M)
    assert headings == [l.number for l in LESSONS]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda l: l.number)
def test_every_exercise_has_a_note(lesson):
    if not lesson.split:
        pytest.skip(f"lesson {lesson.number} is not split into core and Going deeper yet: the notes "
                    "are written for its split version")
    missing = [q for q in lesson.core_ids + lesson.deeper_ids if q not in _noted_ids()]
    assert not missing, f"docs/instructor/lessons.md has no note for {missing}"


DOC_FILES = sorted(DOCS.rglob("*.md"))


def _prose(text):
    """The Markdown without fenced code blocks and inline code."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(DOCS)))
def test_links_resolve_and_money_is_escaped(path):
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        file = target.split("#")[0]
        assert (path.parent / file).resolve().exists(), f"{path.name}: broken link {target}"
    assert not re.search(r"(?<!\\)\$", _prose(text)), f"{path.name}: a money dollar must be written \\$"
