"""Grading with nbgrader (`python -m inferlab.grading export`).

The fast tests need no nbgrader: the exported metadata follows nbgrader's schema (v3), every
exercise of the solutions is there with a locked test cell, and the test cells' check fails
an unanswered `...` and a wrong value. The end-to-end test runs nbgrader itself (skipped
when it is not installed: `pip install -e '.[grade]'`): generate_assignment, three fake
students (correct, blank, wrong), autograde, and the scores read back from the gradebook.
INFERLAB_GRADING_LESSONS="02 11" limits it to some lessons (default: all).
"""
import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inferlab import authoring, grading, reading_time

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _text(cell):
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _solution_qids():
    """Every exercise id a solution checks, read with a plain regex (not the module's parser)."""
    qids = []
    for path in SOLUTIONS:
        for cell in _load(path)["cells"]:
            if cell["cell_type"] == "code":
                qids += re.findall(r"(?<!\w)check\(\s*[\"'](\d\d\.[a-z0-9-]+)[\"']", _text(cell))
    return qids


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    return out, grading.export(out, ROOT / "solutions")


# ---------------------------------------------------------------- fast: no nbgrader needed

def test_grade_ids_are_nbgrader_ids():
    assert grading.grade_id("02.gemv-intensity") == "ex02_gemv_intensity"
    assert grading.grade_id("11.break-even-utilisation") == "ex11_break_even_utilisation"
    for bad in ("01.Rule", "1.x", "02-gemv", "", None, 2):
        with pytest.raises(ValueError, match="qid"):
            grading.grade_id(bad)


def test_assert_correct_fails_blank_wrong_and_wrong_type_passes_right():
    # Ridge of an H200 in dense bf16, by hand from its spec sheet: 989 TFLOP/s / 4.8 TB/s.
    grading.assert_correct("02.ridge-h200", 989e12 / 4.8e12)
    for answer in (..., None, 12345, 989 / 4.8 * 1e3, "206", "compute"):
        with pytest.raises(AssertionError, match="02.ridge-h200"):
            grading.assert_correct("02.ridge-h200", answer)
    # 200k tokens of context: the batch that fits is small and each step reads its whole cache
    grading.assert_correct("08.bound-200k", "memory")
    with pytest.raises(AssertionError):
        grading.assert_correct("08.bound-200k", "compute")
    with pytest.raises(AssertionError, match="no exercise"):
        grading.assert_correct("99.nothing", 1)


@pytest.mark.parametrize("qid", sorted(set(_solution_qids())))
def test_every_exercise_fails_ellipsis_and_12345(qid):
    for answer in (..., 12345):
        with pytest.raises(AssertionError):
            grading.assert_correct(qid, answer)


def test_every_exercise_has_an_answer_cell_and_a_locked_test_cell(exported):
    out, written = exported
    qids = []
    for path in written:
        cells = _load(path)["cells"]
        for index, cell in enumerate(cells):
            meta = cell["metadata"].get("nbgrader")
            if not meta or not meta["grade"] or cell["cell_type"] != "code":
                continue
            qid = re.search(r"assert_correct\('(\d\d\.[a-z0-9-]+)'", _text(cell)).group(1)
            qids.append(qid)
            assert meta["locked"] and not meta["solution"] and meta["points"] > 0
            assert meta["grade_id"] == grading.grade_id(qid) + "_test"
            # the answer cell it grades comes before it, with the same check and the stubs
            answer = next(c for c in reversed(cells[:index]) if c["metadata"].get("nbgrader", {}).get("solution"))
            assert f'check("{qid}"' in _text(answer)
            assert authoring.ANSWER_PROMPT in _text(answer) and " = ...\n" in _text(answer)
            # the asserts are hidden from the learner's copy, put back by autograde
            hidden = _text(cell).split(grading.HIDDEN_BEGIN)[1].split(grading.HIDDEN_END)[0]
            assert "assert_correct(" in hidden
    assert sorted(qids) == sorted(_solution_qids()), "an exercise is missing from the export, or doubled"
    assert len({p.parent.name for p in written}) == len(written) == len(SOLUTIONS)
    assert all(p.parent.parent == out / "source" and p.parent.name == p.stem for p in written)


def test_metadata_follows_nbgrader_schema_v3(exported):
    """The rules of nbgrader 0.9's nbgraderformat/v3.json and MetadataValidatorV3, restated."""
    _, written = exported
    keys = {"schema_version", "grade", "locked", "solution", "task", "grade_id", "points"}
    for path in written:
        notebook = _load(path)
        ids = set()
        assert notebook["metadata"]["kernelspec"]["language"] == "python"
        for cell in notebook["cells"]:
            text = _text(cell)
            meta = cell["metadata"].get("nbgrader")
            if meta is None:
                assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, \
                    f"{path.name}: a solution region in a non-solution cell"
                continue
            assert set(meta) <= keys and meta["schema_version"] == 3
            assert all(isinstance(meta[k], bool) for k in ("grade", "locked", "solution", "task"))
            assert re.fullmatch(r"[a-zA-Z0-9_-]+", meta["grade_id"]), meta["grade_id"]
            assert meta["grade_id"] not in ids, f"{path.name}: duplicate grade id {meta['grade_id']}"
            ids.add(meta["grade_id"])
            assert ("points" in meta) == meta["grade"]
            if cell["cell_type"] == "markdown":
                assert meta["grade"] and meta["solution"], "a written answer is graded by hand"
            if meta["solution"]:
                assert text.count(authoring.BEGIN) == text.count(authoring.END) >= 1
            assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", cell["id"])
        assert len({c["id"] for c in notebook["cells"]}) == len(notebook["cells"])


def test_config_keeps_the_course_stubs(exported):
    out, _ = exported
    config = (out / "nbgrader_config.py").read_text()
    assert 'code_stub = {"python": ""}' in config
    assert "NotImplementedError()" not in config.replace("raises NotImplementedError", "")


def _exercise_cell(qid, name, value, tags=()):
    return {"cell_type": "code", "execution_count": None, "id": name.replace("_", "-"),
            "metadata": {"tags": list(tags)} if tags else {}, "outputs": [],
            "source": f"{authoring.BEGIN}\n{name} = {value}\n{authoring.END}\nil.check({qid!r}, {name})"}


def test_core_export_drops_deeper_exercises_and_bad_markers_are_refused(tmp_path):
    solution = {"cells": [
        {"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# 02 · The roofline"},
        _exercise_cell("02.ridge-h200", "ridge_h200", "989e12 / 4.8e12"),
        _exercise_cell("02.w8a16-knee", "w8a16_knee", "989e12 / (2 * 3.35e12)", tags=[reading_time.DEEPER_TAG]),
    ], "metadata": {"kernelspec": {"language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "02_roofline.ipynb").write_text(authoring.dumps(copy.deepcopy(solution)))
    core = grading.export(tmp_path / "core", tmp_path / "solutions", core_only=True)[0].read_text()
    full = grading.export(tmp_path / "full", tmp_path / "solutions")[0].read_text()
    assert "02.w8a16-knee" not in core and "02.w8a16-knee" in full and "02.ridge-h200" in core
    answer = _load(tmp_path / "full" / "source" / "02_roofline" / "02_roofline.ipynb")["cells"][1]
    # the stubs stand above the region nbgrader removes, as the lesson shows them
    assert _text(answer).startswith(f"{authoring.ANSWER_PROMPT}\nridge_h200 = ...\n{authoring.BEGIN}")

    solution["cells"].append({"cell_type": "markdown", "id": "prose", "metadata": {},
                              "source": "Answers go between `### BEGIN SOLUTION` and `### END SOLUTION`."})
    with pytest.raises(ValueError, match="prose"):
        grading.nbgrader_notebook(solution)
    with pytest.raises(ValueError, match="lessons"):
        grading.export(tmp_path / "none", ROOT / "solutions", lessons=["42"])


# ---------------------------------------------------------------- end to end with nbgrader

NBGRADER = importlib.util.find_spec("nbgrader") is not None


def _run(args, cwd, env):
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    return result


def _answers(notebook):
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in notebook["cells"]
            if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code"}


@pytest.mark.skipif(not NBGRADER, reason="nbgrader is not installed: pip install -e '.[grade]' "
                    "to run the end-to-end grading test")
def test_nbgrader_end_to_end(tmp_path):
    from nbgrader.api import Gradebook

    lessons = os.environ.get("INFERLAB_GRADING_LESSONS", "").split() or None
    course = tmp_path / "course"
    written = grading.export(course, ROOT / "solutions", lessons=lessons)
    env = dict(os.environ, INFERLAB_QUICK="1", MPLBACKEND="Agg",
               # nbgrader calls `alembic` from PATH, and the kernel is `python` from PATH
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "lib"), os.environ.get("PYTHONPATH")])))
    env.pop("INFERLAB_STRICT", None)  # a learner's wrong answer must not stop the notebook

    wrong_ids = set()
    for path in written:
        assignment = path.parent.name
        _run(["generate_assignment", assignment, "--force"], course, env)
        released = _load(course / "release" / assignment / path.name)
        for cell in released["cells"]:
            text = _text(cell)
            assert "BEGIN SOLUTION" not in text and "NotImplementedError" not in text
            assert "assert_correct" not in text, "the asserts must be hidden in the learner's copy"
        solution_answers = _answers(_load(path))
        submissions = {"blank": released, "correct": copy.deepcopy(released), "wrong": copy.deepcopy(released)}
        for number, (gid, cell) in enumerate(_answers(submissions["correct"]).items()):
            cell["source"] = _text(solution_answers[gid])
        for number, (gid, cell) in enumerate(_answers(submissions["wrong"]).items()):
            if number % 2:  # every other exercise: the stubs answered 12345
                cell["source"] = _text(cell).replace(" = ...", " = 12345")
                wrong_ids.add((assignment, gid + "_test"))
            else:
                cell["source"] = _text(solution_answers[gid])
        for student, notebook in submissions.items():
            target = course / "submitted" / student / assignment / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(notebook), encoding="utf-8")
        _run(["autograde", assignment, "--create", "--force"], course, env)

    problems, totals = [], {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for path in written:
            assignment = path.parent.name
            tests = [c["metadata"]["nbgrader"] for c in _load(path)["cells"]
                     if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code"]
            for student in ("correct", "blank", "wrong"):
                for meta in tests:
                    score = gradebook.find_grade(meta["grade_id"], path.stem, assignment, student).score
                    right = student == "correct" or (student == "wrong" and (assignment, meta["grade_id"]) not in wrong_ids)
                    expected = meta["points"] if right else 0
                    if score != expected:
                        problems.append(f"{student}: {assignment} {meta['grade_id']} scored {score}, expected {expected}")
                    got, most = totals.get(student, (0, 0))
                    totals[student] = (got + score, most + meta["points"])
    # the graded notebooks ran top to bottom: only test cells may fail, and only for wrong answers
    for student in ("correct", "blank", "wrong"):
        for path in written:
            graded = _load(course / "autograded" / student / path.parent.name / path.name)
            for cell in graded["cells"]:
                errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                if errors and not (cell["metadata"].get("nbgrader", {}).get("grade") and student != "correct"):
                    problems.append(f"{student}/{path.name}: a cell failed: {errors[0]['ename']}: "
                                    f"{errors[0]['evalue'][:200]}\n    {_text(cell)[:200]!r}")
    assert not problems, ("an exercise that needs a name another exercise defines fails whenever that "
                          "one is wrong (see 'wrong:' lines):\n" + "\n".join(problems))
    assert totals["correct"][0] == totals["correct"][1] > 0
    assert totals["blank"][0] == 0
    assert 0 < totals["wrong"][0] < totals["wrong"][1]
