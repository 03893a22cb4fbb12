"""The Explorer pattern itself (inferlab.widgets): what a learner sees when a setting cannot be
drawn."""
import ipywidgets

from inferlab.widgets import Explorer


class _Picky(Explorer):
    """Draws a line for 'fine' and 'other' (redrawn by ``update``) and cannot draw 'broken'."""

    figsize = (3, 2)

    def controls(self):
        return {"choice": ipywidgets.Dropdown(options=["fine", "broken", "other"], value="fine")}

    def draw(self, fig, choice):
        ax = fig.subplots()
        (self._line,) = ax.plot([0, 1], [0, 1])
        self.moving = [self._line]
        return self.update(choice)

    def update(self, choice):  # the fast path: only the line moves over a saved background
        if choice == "broken":
            raise ValueError("broken cannot be drawn")
        self._line.set_ydata([0, 1] if choice == "fine" else [1, 0])
        return f"drew {choice}"


def test_a_setting_that_cannot_be_drawn_clears_the_old_figure():
    explorer = _Picky()
    explorer.widget()
    fine = explorer._image.value
    explorer.apply_settings({"choice": "broken"})
    assert "Cannot draw this combination" in explorer._summary.value
    assert "broken cannot be drawn" in explorer._summary.value
    assert explorer._image.value != fine, "the previous setting's figure stays on screen"
    explorer.apply_settings({"choice": "other"})  # and it recovers with a full redraw
    assert explorer._summary.value == "drew other"
    assert explorer._image.value not in (fine, b"")
