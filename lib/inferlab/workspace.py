"""The learner's workspace: ``my-work/``, an ignored copy of ``lessons/`` that nothing the
course runs ever overwrites.

``make lab`` (``prepare``) copies each lesson the learner does not have yet into ``my-work/``
and records which version of the lesson the copy was made from. When a lesson the learner
has changed is later updated in the course (``git pull``), their copy is left alone and the
new version is put beside it, with a notice; a copy the learner never changed is simply
replaced by the new version. Deleting (or renaming) a copy starts that lesson afresh: the
next ``make lab`` copies it again.

``make lessons`` (``rescue``) first saves into ``my-work/`` any lesson in ``lessons/`` that
holds a learner's work (it was run and saved, or typed into), because regenerating
``lessons/`` from ``solutions/`` would overwrite it.

Run ``python -m inferlab.workspace prepare|rescue [ROOT]``.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

WORK = "my-work"
LESSONS = "lessons"
STATE = ".course-versions.json"


@dataclass(frozen=True)
class Notice:
    """One thing the learner should know about their workspace."""
    lesson: str
    kind: str  # "created", "updated", "changed", "rescued"
    text: str


def sources_digest(notebook: dict) -> str:
    """A hash of what a learner reads and types (each cell's kind and source), blind to
    outputs, execution counts and metadata that running or opening a notebook changes."""
    digest = hashlib.sha256()
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        digest.update(cell.get("cell_type", "").encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _file_digest(path: Path) -> str | None:
    notebook = _read(path)
    return None if notebook is None else sources_digest(notebook)


def _load_state(work: Path) -> dict:
    state = _read(work / STATE)
    return state if isinstance(state, dict) else {}


def _save_state(work: Path, state: dict) -> None:
    (work / STATE).write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _beside_name(work: Path, stem: str, today: str) -> Path:
    candidate = work / f"{stem} (updated {today}).ipynb"
    number = 2
    while candidate.exists():
        candidate = work / f"{stem} (updated {today}, {number}).ipynb"
        number += 1
    return candidate


def prepare(root: Path = Path("."), today: str | None = None) -> list[Notice]:
    """Bring ``ROOT/my-work`` up to date with ``ROOT/lessons`` without losing anything the
    learner wrote; returns what the learner should be told."""
    root = Path(root)
    work = root / WORK
    work.mkdir(exist_ok=True)
    today = today or datetime.date.today().isoformat()
    state = _load_state(work)
    notices = []
    for lesson in sorted((root / LESSONS).glob("*.ipynb")):
        name, copy = lesson.stem, work / lesson.name
        current = _file_digest(lesson)
        if current is None:
            continue
        record = state.get(name, {})
        if not copy.exists():
            shutil.copyfile(lesson, copy)
            state[name] = {"base": current}
            kind = "created" if not record else "afresh"
            notices.append(Notice(name, kind, f"{WORK}/{lesson.name}: a fresh copy of the lesson"))
            continue
        base = record.get("base")
        if base is None:  # a copy the workspace did not make (put there by hand): keep it
            state[name] = {"base": _file_digest(copy) or ""}
            continue
        if base == current:
            continue
        if _file_digest(copy) == current:  # the learner already took the new version
            state[name] = {"base": current}
            continue
        if _file_digest(copy) == base:  # the learner never changed it: take the new version
            shutil.copyfile(lesson, copy)
            state[name] = {"base": current}
            notices.append(Notice(name, "updated", f"{WORK}/{lesson.name}: updated to the new "
                                  "course version (you had not changed your copy)"))
            continue
        offered = record.get("offered", {})
        if offered.get("digest") != current:
            beside = _beside_name(work, name, today)
            shutil.copyfile(lesson, beside)
            offered = {"digest": current, "file": beside.name}
            record = dict(record, offered=offered)
            state[name] = record
        beside_path = work / offered["file"]
        if beside_path.exists():
            notices.append(Notice(name, "changed", (
                f"Lesson {name} has changed in the course since you started it.\n"
                f"    Your copy, {WORK}/{lesson.name}, is untouched.\n"
                f"    The new version is beside it: {WORK}/{offered['file']}\n"
                "    Work on whichever you like; to move to the new one, copy your answers "
                "across, then delete or rename your old copy.")))
    _save_state(work, state)
    return notices


def holds_learner_work(root: Path, lesson: Path) -> bool:
    """Whether ``lessons/X.ipynb`` holds a learner's work: it was run and saved (outputs or
    execution counts: the lessons are stored without them), or its cells differ from the
    committed lesson while the solution it is generated from is unchanged (so the
    difference was typed into the lesson, not generated)."""
    notebook = _read(lesson)
    if notebook is None:
        return False
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count")):
            return True
    committed = _git_show(root, f"{LESSONS}/{lesson.name}")
    solution = root / "solutions" / lesson.name
    committed_solution = _git_show(root, f"solutions/{lesson.name}")
    if committed is None or committed_solution is None or not solution.exists():
        return False
    solution_unchanged = committed_solution == solution.read_text(encoding="utf-8")
    try:
        lesson_changed = sources_digest(json.loads(committed)) != sources_digest(notebook)
    except ValueError:
        return False
    return solution_unchanged and lesson_changed


def _git_show(root: Path, path: str) -> str | None:
    try:
        result = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=root, capture_output=True,
                                timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.decode("utf-8") if result.returncode == 0 else None


def work_in_lessons(root: Path = Path(".")) -> list[Path]:
    """The lessons in ``lessons/`` that hold a learner's work (see ``holds_learner_work``)."""
    root = Path(root)
    return [p for p in sorted((root / LESSONS).glob("*.ipynb")) if holds_learner_work(root, p)]


def rescue(root: Path = Path(".")) -> list[Notice]:
    """Before ``lessons/`` is regenerated: save every lesson that regeneration would
    overwrite and that holds a learner's work into ``my-work/`` (as the learner's copy when
    they have none, else beside it). Returns what was saved."""
    from inferlab import authoring

    root = Path(root)
    work = root / WORK
    notices = []
    for lesson in authoring.generate_lessons(root, write=False):
        if not lesson.exists() or not holds_learner_work(root, lesson):
            continue
        work.mkdir(exist_ok=True)
        target = work / lesson.name
        if target.exists():
            stamp = datetime.datetime.now().strftime("%Y-%m-%d %H%M%S")
            target = work / f"{lesson.stem} (from lessons, {stamp}).ipynb"
        shutil.copyfile(lesson, target)
        notices.append(Notice(lesson.stem, "rescued", f"your work in {LESSONS}/{lesson.name} was "
                              f"saved to {WORK}/{target.name} before the lessons were regenerated"))
    return notices


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("prepare", "rescue"):
        print(__doc__)
        return 2
    root = Path(argv[1]) if len(argv) > 1 else Path(".")
    notices = prepare(root) if argv[0] == "prepare" else rescue(root)
    for notice in notices:
        print(notice.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
