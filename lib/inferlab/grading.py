"""Grading with nbgrader: the course's exercises as an nbgrader course, made from ``solutions/``.

``python -m inferlab.grading export OUTDIR`` writes an nbgrader course folder::

    OUTDIR/nbgrader_config.py
    OUTDIR/source/02_roofline/02_roofline.ipynb      one assignment per lesson

Each exercise becomes two cells. The **answer cell** (nbgrader "autograded answer") is the
lesson's exercise cell: the learner's copy shows ``name = ...`` stubs, exactly as in
``lessons/``, and keeps its ``il.check(...)`` call for instant feedback. Right after it, a
locked **test cell** (nbgrader "autograder tests", one point) calls :func:`assert_correct`,
which fails on an unanswered ``...``, a wrong value, a wrong type and a missing name. A
written answer (a Markdown cell with a solution region) becomes a manually graded answer.

The test cells' asserts sit between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``:
the released notebook shows only a comment there, so a learner who skips an exercise can
still run the whole notebook (the course's rule: a skipped exercise never breaks a later
cell), and ``nbgrader autograde`` puts the asserts back from its database.

``--core`` drops the cells tagged ``deeper`` (see :mod:`inferlab.reading_time`), for a route
through the lessons' cores; ``--lessons 02 05`` exports only those lessons.

Grading needs nbgrader (``pip install -e '.[grade]'``); exporting does not. This module
imports neither nbgrader nor anything heavy: the test cells import it from the kernel.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import authoring, reading_time
from .exercises import grade

__all__ = ["assert_correct", "grade_id", "Exercise", "exercises_in", "nbgrader_notebook",
           "export", "main"]

#: nbgrader's own pattern for a grade id (nbgraderformat/v3.json).
GRADE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
POINTS = 1
SCHEMA_VERSION = 3
COURSE_ID = "the-latency-floor"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_QID = re.compile(r"^(\d\d)\.([a-z0-9][a-z0-9-]*)$")

# ClearSolutions replaces a solution region with `code_stub`. The course's own stubs
# (`name = ...`, as in lessons/) are written just above each region, so the replacement is
# empty: nbgrader's default, `raise NotImplementedError()`, would stop "Run All".
CONFIG = f'''\
"""nbgrader configuration for The Latency Floor (written by `python -m inferlab.grading export`)."""
c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "{COURSE_ID}"
# The learner's copy keeps the course's stubs (`name = ...`) written above each solution
# region; the region itself is removed without a stub, so no cell raises NotImplementedError.
c.ClearSolutions.code_stub = {{"python": ""}}
c.ClearSolutions.text_stub = "{authoring.WRITE_PROMPT}"
c.ClearSolutions.begin_solution_delimeter = "{authoring.BEGIN}"
c.ClearSolutions.end_solution_delimeter = "{authoring.END}"
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
# Lesson 03 measures the grading machine in full mode unless INFERLAB_QUICK=1 is set.
c.Execute.timeout = 600
'''


def assert_correct(qid: str, answer, **inputs) -> None:
    """Raise ``AssertionError`` (with the feedback's words) unless ``answer`` to exercise
    ``qid`` is correct. Unlike ``check`` in strict mode, an unanswered ``...`` fails too."""
    feedback = grade(qid, answer, **inputs)
    if not feedback.correct:
        raise AssertionError(str(feedback))


def grade_id(qid: str) -> str:
    """nbgrader's id for exercise ``qid``: ``"02.gemv-intensity"`` -> ``"ex02_gemv_intensity"``."""
    match = _QID.match(qid) if isinstance(qid, str) else None
    if not match:
        raise ValueError(f"qid must look like '02.gemv-intensity', got {qid!r}")
    return f"ex{match.group(1)}_{match.group(2).replace('-', '_')}"


@dataclass(frozen=True)
class Exercise:
    """One checked exercise as it stands in a solution cell: its id and the source text of
    the arguments its ``check`` call passes (the answer, then any inputs)."""

    qid: str
    arguments: str


def _source(cell) -> str:
    return authoring._source(cell)


def exercises_in(code: str) -> list:
    """The ``check("NN.id", answer, ...)`` calls in a code cell, in order."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        first = node.args[0]
        if name == "check" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            parts = [ast.get_source_segment(code, a) for a in node.args[1:]]
            parts += [f"{k.arg + '=' if k.arg else '**'}{ast.get_source_segment(code, k.value)}"
                      for k in node.keywords]
            found.append((node.lineno, node.col_offset, Exercise(first.value, ", ".join(parts))))
    return [exercise for *_, exercise in sorted(found, key=lambda f: f[:2])]


#: A solution region as ``authoring`` blanks it: the markers at the start of their lines.
_REGION = re.compile(rf"^[ \t]*{re.escape(authoring.BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(authoring.END)}[^\n]*(?:\n|$)",
                     re.S | re.M)


def _with_stubs(text: str) -> str:
    """Write the lesson's stubs (``name = ...``) just above each solution region, keeping it."""
    return _REGION.sub(lambda m: authoring._blank(m.group(0), markdown=False).rstrip("\n") + "\n"
                       + m.group(0), text)


def _meta(grade_id_: str, *, solution: bool, grade: bool, locked: bool) -> dict:
    meta = {"grade": grade, "grade_id": grade_id_, "locked": locked,
            "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if grade:
        meta["points"] = POINTS
    return meta


def _cell_id(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _test_cell(exercise: Exercise) -> dict:
    source = (f"# Graded: exercise {exercise.qid} ({POINTS} point). The grader checks your answer here.\n"
              f"{HIDDEN_BEGIN}\n"
              "from inferlab.grading import assert_correct\n"
              f"assert_correct({exercise.qid!r}, {exercise.arguments})\n"
              f"{HIDDEN_END}")
    gid = grade_id(exercise.qid) + "_test"
    return {"cell_type": "code", "execution_count": None, "id": _cell_id(gid),
            "metadata": {"nbgrader": _meta(gid, solution=False, grade=True, locked=True)},
            "outputs": [], "source": source}


def nbgrader_notebook(solution: dict, core_only: bool = False) -> dict:
    """The nbgrader source version of one solution notebook (a new dict).

    Every cell holding a solution region becomes an answer cell; each ``check`` in it gets a
    locked test cell right after it. A ``ValueError`` names a cell whose solution marker
    nbgrader would misread (a marker outside a region, or text mentioning one).
    """
    notebook = json.loads(json.dumps(reading_time.core_notebook(solution) if core_only else solution))
    cells = []
    for cell in notebook["cells"]:
        text = _source(cell)
        cell.get("metadata", {}).pop("nbgrader", None)
        if not _REGION.search(text):
            if "BEGIN SOLUTION" in text or "BEGIN HIDDEN TESTS" in text:
                raise ValueError(f"cell {cell.get('id')!r} mentions a solution or test marker outside "
                                 "a solution region; nbgrader would misread it")
            cells.append(cell)
            continue
        if cell["cell_type"] == "markdown":
            gid = "written_" + re.sub(r"[^a-zA-Z0-9_-]", "_", str(cell.get("id") or _cell_id(text)))
            cell["metadata"]["nbgrader"] = _meta(gid, solution=True, grade=True, locked=False)
            cells.append(cell)
            continue
        exercises = exercises_in(text)
        gid = grade_id(exercises[0].qid) if exercises else f"answer_{_cell_id(text)}"
        cell["source"] = _with_stubs(text)
        cell["metadata"]["nbgrader"] = _meta(gid, solution=True, grade=False, locked=False)
        cells.append(cell)
        cells.extend(_test_cell(exercise) for exercise in exercises)
    notebook["cells"] = cells
    return notebook


def export(outdir, solutions="solutions", *, core_only: bool = False, lessons=None) -> list:
    """Write the nbgrader course folder ``outdir`` from the notebooks in ``solutions``.

    ``lessons`` limits it to some lesson numbers (``["02", "05"]``); lessons without an
    exercise are left out. Returns the notebooks written (``source/<stem>/<stem>.ipynb``).
    """
    outdir, solutions = Path(outdir), Path(solutions)
    paths = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise ValueError(f"solutions: no lesson notebooks in {solutions}")
    if lessons is not None:
        wanted = {str(n).zfill(2) for n in lessons}
        paths = [p for p in paths if p.name[:2] in wanted]
        if not paths:
            raise ValueError(f"lessons: none of {sorted(wanted)} is in {solutions}")
    written = []
    for path in paths:
        notebook = nbgrader_notebook(json.loads(path.read_text(encoding="utf-8")), core_only=core_only)
        if not any("nbgrader" in c.get("metadata", {}) for c in notebook["cells"]):
            continue
        target = outdir / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(authoring.dumps(notebook), encoding="utf-8")
        written.append(target)
    (outdir / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inferlab.grading",
                                     description="Export the course's exercises as an nbgrader course.")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("export", help="write OUTDIR/source/<lesson>/<lesson>.ipynb and "
                                  "OUTDIR/nbgrader_config.py")
    command.add_argument("outdir")
    command.add_argument("--solutions", default="solutions", help="the solution notebooks (default: solutions)")
    command.add_argument("--core", action="store_true", help="leave out the 'Going deeper' cells")
    command.add_argument("--lessons", nargs="+", metavar="NN", help="only these lessons, e.g. 02 05")
    args = parser.parse_args(argv)
    try:
        written = export(args.outdir, args.solutions, core_only=args.core, lessons=args.lessons)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} assignment(s) and nbgrader_config.py to {args.outdir}")
    for path in written:
        print(f"  {path}")
    print(f"next: cd {args.outdir} && nbgrader generate_assignment {written[0].parent.name if written else 'NN_name'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
