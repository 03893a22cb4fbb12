"""A learner's work is never lost: answers typed into their copy of a lesson (my-work/)
survive a course update (git pull), `make lessons` and a new `make lab`; they are told when a
lesson they started has changed. Runs on a small git repository in a temporary folder."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from inferlab import authoring, workspace

ROOT = Path(__file__).resolve().parents[1]
ANSWER = "rule_of_thumb = 'my own answer: 2 bytes per parameter / bandwidth'"
TODAY = "2026-01-02"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   cwd=cwd, check=True, capture_output=True, timeout=60)


def _course(tmp_path):
    """An upstream course with two lessons and their solutions, and a learner's clone."""
    upstream = tmp_path / "upstream"
    for folder in ("lessons", "solutions"):
        (upstream / folder).mkdir(parents=True)
        for name in ("00_start_here.ipynb", "01_latency_floor.ipynb"):
            shutil.copy(ROOT / folder / name, upstream / folder / name)
    shutil.copy(ROOT / ".gitignore", upstream / ".gitignore")
    _git(upstream, "init", "-q", "-b", "main")
    _git(upstream, "add", "-A")
    _git(upstream, "commit", "-qm", "course")
    clone = tmp_path / "learner"
    _git(tmp_path, "clone", "-q", str(upstream), str(clone))
    return upstream, clone


def _answer(path: Path) -> None:
    """Type an answer into the first exercise, as JupyterLab would save it (with outputs)."""
    notebook = json.loads(path.read_text())
    cell = next(c for c in notebook["cells"] if "rule_of_thumb = ..." in "".join(c["source"]))
    cell["source"] = "".join(cell["source"]).replace("rule_of_thumb = ...", ANSWER)
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["correct!\n"]}]
    cell["execution_count"] = 7
    path.write_text(json.dumps(notebook, indent=1))


def _change_lesson(upstream: Path, name: str, text: str) -> None:
    for folder in ("solutions", "lessons"):
        path = upstream / folder / name
        notebook = json.loads(path.read_text())
        notebook["cells"][1]["source"] = text
        path.write_text(authoring.dumps(notebook))
    _git(upstream, "commit", "-qam", f"update {name}")


def test_make_lab_copies_the_lessons_into_an_ignored_folder(tmp_path):
    _, clone = _course(tmp_path)
    notices = workspace.prepare(clone)
    assert sorted(n.lesson for n in notices if n.kind == "created") == ["00_start_here",
                                                                         "01_latency_floor"]
    copy = clone / "my-work" / "01_latency_floor.ipynb"
    assert copy.read_bytes() == (clone / "lessons" / "01_latency_floor.ipynb").read_bytes()
    # git ignores the learner's folder: `git status` stays clean, a pull never touches it
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                            text=True, check=True).stdout
    assert status == ""
    assert workspace.prepare(clone) == []  # a second `make lab` has nothing to say


def test_answers_survive_a_course_update_and_the_learner_is_told(tmp_path):
    upstream, clone = _course(tmp_path)
    workspace.prepare(clone, today=TODAY)
    mine = clone / "my-work" / "01_latency_floor.ipynb"
    _answer(mine)
    before = mine.read_bytes()

    _change_lesson(upstream, "01_latency_floor.ipynb", "## A rewritten introduction\n")
    _change_lesson(upstream, "00_start_here.ipynb", "## A new way to start\n")
    _git(clone, "pull", "-q", "--ff-only")  # the course update: no conflict
    notices = {n.lesson: n for n in workspace.prepare(clone, today=TODAY)}

    assert mine.read_bytes() == before, "the learner's answers were changed"
    assert notices["01_latency_floor"].kind == "changed"
    beside = clone / "my-work" / f"01_latency_floor (updated {TODAY}).ipynb"
    assert str(beside.relative_to(clone)) in notices["01_latency_floor"].text
    assert "A rewritten introduction" in beside.read_text()
    # lesson 00 was never changed by the learner: it simply moves to the new version
    assert notices["00_start_here"].kind == "updated"
    assert "A new way to start" in (clone / "my-work" / "00_start_here.ipynb").read_text()

    # the next `make lab` repeats the reminder but copies nothing more
    again = workspace.prepare(clone, today="2026-01-03")
    assert [n.kind for n in again] == ["changed"]
    assert len(list((clone / "my-work").glob("01_*.ipynb"))) == 2


def test_deleting_a_copy_starts_that_lesson_afresh(tmp_path):
    _, clone = _course(tmp_path)
    workspace.prepare(clone)
    mine = clone / "my-work" / "01_latency_floor.ipynb"
    _answer(mine)
    mine.unlink()
    notices = workspace.prepare(clone)
    assert [n.kind for n in notices] == ["afresh"]
    assert mine.read_bytes() == (clone / "lessons" / "01_latency_floor.ipynb").read_bytes()


def test_make_lessons_saves_work_typed_into_lessons_first(tmp_path):
    _, clone = _course(tmp_path)
    lesson = clone / "lessons" / "01_latency_floor.ipynb"
    _answer(lesson)  # a learner who ran and saved the lesson in place
    assert authoring.generate_lessons(clone, write=False) == [lesson]  # `make test` says stale

    notices = workspace.rescue(clone)
    authoring.generate_lessons(clone)  # what `make lessons` runs next
    assert [n.kind for n in notices] == ["rescued"]
    assert ANSWER in (clone / "my-work" / "01_latency_floor.ipynb").read_text()
    assert ANSWER not in lesson.read_text() and authoring.generate_lessons(clone, write=False) == []
    # the learner's copy is also what `make lab` opens afterwards, untouched
    saved = (clone / "my-work" / "01_latency_floor.ipynb").read_bytes()
    workspace.prepare(clone)
    assert (clone / "my-work" / "01_latency_floor.ipynb").read_bytes() == saved


def test_an_answer_typed_without_running_is_work_too(tmp_path):
    _, clone = _course(tmp_path)
    lesson = clone / "lessons" / "01_latency_floor.ipynb"
    notebook = json.loads(lesson.read_text())
    cell = next(c for c in notebook["cells"] if "rule_of_thumb = ..." in "".join(c["source"]))
    cell["source"] = "".join(cell["source"]).replace("rule_of_thumb = ...", ANSWER)
    lesson.write_text(json.dumps(notebook, indent=1))
    assert workspace.holds_learner_work(clone, lesson)


def test_a_contributors_regenerated_lesson_is_not_mistaken_for_work(tmp_path):
    _, clone = _course(tmp_path)
    solution = clone / "solutions" / "01_latency_floor.ipynb"
    notebook = json.loads(solution.read_text())
    notebook["cells"][1]["source"] = "## Edited by an author\n"
    solution.write_text(authoring.dumps(notebook))
    authoring.generate_lessons(clone)  # `make lessons` once ...
    notebook["cells"][1]["source"] = "## Edited by an author, twice\n"
    solution.write_text(authoring.dumps(notebook))
    assert workspace.rescue(clone) == []  # ... and again: nothing to save
    assert not (clone / "my-work").exists()


def test_the_tests_check_the_tracked_lessons_not_the_learners_copies(tmp_path):
    _, clone = _course(tmp_path)
    workspace.prepare(clone)
    _answer(clone / "my-work" / "01_latency_floor.ipynb")
    assert authoring.generate_lessons(clone, write=False) == []


def test_a_learner_who_takes_the_new_version_is_not_reminded(tmp_path):
    upstream, clone = _course(tmp_path)
    workspace.prepare(clone, today=TODAY)
    mine = clone / "my-work" / "01_latency_floor.ipynb"
    _answer(mine)
    _change_lesson(upstream, "01_latency_floor.ipynb", "## A rewritten introduction\n")
    _git(clone, "pull", "-q", "--ff-only")
    workspace.prepare(clone, today=TODAY)
    beside = clone / "my-work" / f"01_latency_floor (updated {TODAY}).ipynb"
    mine.unlink()
    beside.rename(mine)  # the learner moves to the new version
    assert workspace.prepare(clone, today=TODAY) == []
    assert workspace.work_in_lessons(clone) == []
    _answer(clone / "lessons" / "01_latency_floor.ipynb")
    assert workspace.work_in_lessons(clone) == [clone / "lessons" / "01_latency_floor.ipynb"]
