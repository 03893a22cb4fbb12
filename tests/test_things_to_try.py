"""Every "Things to try" can be done with the explorer's controls as built (issue 13 §3).

Each explorer class lists ``things_to_try``: ``(text, settings)`` pairs. For each, a fresh
explorer's live widget is set to ``settings`` the way a learner would (``apply_settings``):
every value must stick (sliders clamp silently, menus must offer it) and the redraw must draw
(no "Cannot draw this combination"). The lesson that shows the explorer lists exactly those
texts, each as a bullet, in the Markdown cell saying "Things to try" after its widget.
"""
import json
import re
from pathlib import Path

import ipywidgets
import pytest

from inferlab.widgets import Explorer, explorer_classes

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
CLASSES = explorer_classes()
_BULLET = re.compile(r"^[ \t]*[-*][ \t]+(.*(?:\n[ \t]+(?![-*][ \t]).*)*)", re.M)


def _text(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _normal(text):
    return " ".join(text.split())


def things_listed(cells, class_name):
    """The bullets of the "Things to try" Markdown that follows the widget cell of explorer
    ``class_name`` (before the next code cell), or None when there is none."""
    built, found = False, None
    for index, cell in enumerate(cells):
        text = _text(cell)
        if cell["cell_type"] == "code" and re.search(rf"\b{class_name}\(", text):
            built = True
        if built and cell["cell_type"] == "code" and ".widget()" in text:
            for later in cells[index + 1:]:
                if later["cell_type"] == "code":
                    break
                if re.search(r"things to try", _text(later), re.I):
                    found = [_normal(b) for b in _BULLET.findall(_text(later))]
                    break
            if found is not None:
                return found
            built = False
    return None


def lesson_listing(cls):
    """(notebook name, bullets) of the first solution whose "Things to try" follows ``cls``."""
    for path in SOLUTIONS:
        listed = things_listed(json.loads(path.read_text(encoding="utf-8"))["cells"], cls.__name__)
        if listed is not None:
            return path.name, listed
    return None, None


# --- the checks on hand-made explorers and notebooks ----------------------------------------
class _Toy(Explorer):
    things_to_try = (("Set three.", {"n": 3}),)

    def controls(self):
        return {"n": ipywidgets.IntSlider(value=1, min=1, max=8, step=1, description="n"),
                "chip": ipywidgets.Dropdown(options=["H100", "H200"], value="H100"),
                "x": ipywidgets.FloatLogSlider(value=10, base=10, min=0, max=3, step=0.5)}

    def draw(self, fig, n, chip, x):
        if n == 7:
            raise ValueError("seven is unlucky")
        fig.add_subplot().plot(range(n))
        return f"{n} on {chip}"


def test_apply_settings_reports_what_does_not_stick():
    toy = _Toy()
    assert toy.apply_settings({"n": 3, "chip": "H200", "x": 100.0}) == {}
    assert toy._summary.value == "3 on H200"
    missed = toy.apply_settings({"n": 50, "chip": "B200", "x": 50.0, "m": 1})
    assert set(missed) == {"n", "chip", "x", "m"}
    assert "range" in missed["n"] and "options" in missed["chip"] and "steps" in missed["x"]
    assert toy.apply_settings({"n": 7}) == {} and "Cannot draw" in toy._summary.value


def test_listing_is_read_from_the_cell_after_the_widget():
    cells = [{"cell_type": "code", "source": "e = _Toy()\ne.static()"},
             {"cell_type": "code", "source": "e.widget()"},
             {"cell_type": "markdown", "source": "Things to try:\n\n- Set three.\n- Set\n  four."}]
    assert things_listed(cells, "_Toy") == ["Set three.", "Set four."]
    assert things_listed(cells[:2], "_Toy") is None


# --- the course's explorers --------------------------------------------------------------------------
def test_there_are_explorers():
    assert len(CLASSES) >= 10


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_thing_to_try_can_be_done(cls):
    assert cls.things_to_try, f"{cls.__name__} has no things_to_try"
    problems = []
    for text, settings in cls.things_to_try:
        assert isinstance(text, str) and isinstance(settings, dict) and settings, (text, settings)
        explorer = cls()
        missed = explorer.apply_settings(settings)
        if missed:
            problems.append(f"'{text}': {missed}")
        elif "Cannot draw" in explorer._summary.value:
            problems.append(f"'{text}': {explorer._summary.value}")
    assert not problems, f"{cls.__name__}:\n" + "\n".join(problems)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_lesson_lists_exactly_the_things_to_try(cls):
    notebook, listed = lesson_listing(cls)
    assert listed is not None, f"no lesson has a 'Things to try' cell after {cls.__name__}'s widget"
    texts = [_normal(text) for text, _ in cls.things_to_try]
    assert texts, f"{cls.__name__} has no things_to_try"
    assert listed == texts, f"{notebook} lists {listed}, {cls.__name__}.things_to_try says {texts}"
