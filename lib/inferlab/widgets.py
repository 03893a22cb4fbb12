"""The pattern every interactive explorer follows.

A subclass names its controls and draws one figure from their values. The same drawing
code gives the static figure (shown first, so the notebook reads well without a kernel)
and the live widget, which re-renders a PNG into an ``ipywidgets.Image`` on each change.

Speed: building axes and rendering text dominate matplotlib's time (about 0.5 ms per
visible text, so a figure with 30 labels costs ~50 ms to render at all). For redraws well
under 50 ms an explorer also defines ``update(**values)``, which changes the data of the
artists ``draw`` made instead of building the figure again, and lists the artists that
change in ``self.moving``. The live widget then renders the figure once,
keeps that image as a background (axes, ticks, labels), and on each change draws only the
animated artists over it (blitting). Keep axis limits fixed so the background stays right;
if an update must change something else (limits, titles), call ``self.invalidate()`` and
the next redraw renders everything again. Titles that change belong in the summary text.

Notebook time: ``static()`` renders one PNG, which ``widget()`` shows as its first frame when
the settings match, so a notebook renders each explorer once; the live figure is built
when a control first moves (that first redraw takes a few hundred ms, later ones ~10 ms).
"""
from __future__ import annotations

import io
import math
import time

import numpy as np
from PIL import Image

import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .display import no_maths
from .plotting import use_style


class Explorer:
    """Base class: override ``controls`` and ``draw``.

    ``controls()`` returns a dict of name -> ipywidgets control; ``draw(fig, **values)``
    draws on an empty figure and returns a short HTML/text summary. Keyword arguments to
    the constructor override the controls' default values.
    """

    figsize = (8.0, 3.6)
    dpi = 80
    #: What the lesson's "Things to try" suggests, as ``(text, settings)`` pairs: ``text`` is the
    #: bullet the lesson shows, ``settings`` maps control names (keys of ``controls()``) to the
    #: values that do it. A test sets each on the live widget (see ``apply_settings``).
    things_to_try = ()

    def __init__(self, **defaults):
        self.defaults = defaults
        self._widget = None
        self.redraw_seconds = []

    # --- to override -------------------------------------------------------------
    def controls(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, fig, **values) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    #: Subclasses may define ``update(self, **values) -> str`` (see the module docstring).
    update = None

    def default_values(self) -> dict:
        """Each control's default value, with the constructor's overrides applied."""
        values = {name: control.value for name, control in self.controls().items()}
        unknown = set(self.defaults) - set(values)
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; the controls are {sorted(values)}")
        values.update(self.defaults)
        return values

    # --- static ------------------------------------------------------------------
    def static(self, **values) -> None:
        """Show the figure for the default settings (or ``values``) as a plain image with its
        summary: readable without a kernel. ``widget()`` reuses this image for its first
        frame, so its live figure is only built when a control first moves."""
        use_style()
        settings = {**self.default_values(), **values}
        fig = plt.figure(figsize=self.figsize, layout="constrained")
        try:
            summary = self.draw(fig, **settings)
            png = _png_bytes(fig, self.static_dpi)
        finally:
            plt.close(fig)
        self._static = (settings, png, summary)
        _display_html(summary)
        _display_png(png)

    static_dpi = 100

    # --- live --------------------------------------------------------------------
    def widget(self):
        """The live explorer: controls, a summary and the figure, redrawn on every change."""
        import ipywidgets as widgets

        use_style()
        controls = self.controls()
        for name, value in self.defaults.items():
            if name in controls:
                controls[name].value = value
        self._controls = controls
        self._figure = None
        self._drawn = False
        self._background = None
        self._summary = widgets.HTML(layout=widgets.Layout(min_height="3em"))
        self._summary.add_class("inferlab-summary")
        self._image = widgets.Image(format="png")
        self._image.add_class("inferlab-figure")
        for control in controls.values():
            control.observe(lambda change: self.redraw(), names="value")
        cached = getattr(self, "_static", None)
        if cached is not None and cached[0] == self.values():
            self._image.value, self._summary.value = cached[1], cached[2]  # the static frame
        else:
            self.redraw()
        panel = widgets.VBox([widgets.HBox(list(controls.values()),
                                           layout=widgets.Layout(flex_flow="row wrap")),
                              self._summary, self._image])
        panel.add_class("inferlab-explorer")
        self._widget = panel
        return panel

    def apply_settings(self, settings: dict) -> dict:
        """Set the live controls to ``settings`` (control name -> value), one after another as
        a learner would, building the widget first if needed. Returns what did not stick,
        ``{name: why}``: a slider clamps a value outside its range silently and its handle
        moves only in steps; a menu must offer the value; an unknown name is no control."""
        from traitlets import TraitError
        if self._widget is None:
            self.widget()
        missed = {}
        for name, wanted in settings.items():
            control = self._controls.get(name)
            if control is None:
                missed[name] = f"no control called {name!r}; the controls are {sorted(self._controls)}"
                continue
            why = _unreachable(control, wanted)
            if why is None:
                try:
                    control.value = wanted
                except TraitError as error:
                    why = f"{wanted!r} refused: {error}"
                else:
                    if not _same(control.value, wanted):
                        why = f"set {wanted!r}, the control shows {control.value!r}"
            if why is not None:
                missed[name] = why
        return missed

    def invalidate(self) -> None:
        """Ask the next redraw to render the whole figure (limits or labels changed)."""
        self._background = None

    def _render_live(self) -> bytes:
        if self.update is None:
            return render_png(self._figure)
        canvas = self._figure.canvas
        if self._background is None:
            canvas.draw()  # everything but the animated artists
            self._background = canvas.copy_from_bbox(self._figure.bbox)
        else:
            canvas.restore_region(self._background)
        for artist in self._animated:
            self._figure.draw_artist(artist)
        return _png(canvas)

    def values(self) -> dict:
        """The live controls' current values."""
        return {name: control.value for name, control in self._controls.items()}

    def redraw(self) -> None:
        """Redraw the live figure from the controls; records the time it took."""
        start = time.perf_counter()
        if self._figure is None:  # built on first use (the first frame may be the static one)
            self._figure = Figure(figsize=self.figsize, dpi=self.dpi, layout="constrained")
            FigureCanvasAgg(self._figure)
        try:
            if self.update is not None and self._drawn:
                summary = self.update(**self.values())
            else:
                self._figure.clear()
                summary = self.draw(self._figure, **self.values())
                if self.update is not None:  # fix the layout once; updates keep it
                    self._figure.canvas.draw()
                    self._figure.set_layout_engine("none")
                    self._animated = list(getattr(self, "moving", []))
                    for artist in self._animated:
                        artist.set_animated(True)
                self._drawn = True
                self._background = None
        except ValueError as error:  # a combination the model cannot take: say so, no traceback
            summary = f"<b>Cannot draw this combination:</b> {error}"
            # never leave the previous settings' figure on screen under this message
            self._figure.clear()
            self._figure.text(0.5, 0.5, "nothing to draw for these settings\n(see the message above)",
                              ha="center", va="center", color="0.4", fontsize=12)
            self._drawn, self._background = False, None
            self._image.value = render_png(self._figure)
        else:
            self._image.value = self._render_live()
        self._summary.value = summary
        self.redraw_seconds.append(time.perf_counter() - start)


def _same(got, wanted) -> bool:
    if isinstance(wanted, float) or isinstance(got, float):
        try:
            return math.isclose(float(got), float(wanted), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return got == wanted


def _unreachable(control, value):
    """Why ``control`` as built cannot show ``value`` (None when it can): not among a menu's
    options, outside a slider's range, or between its steps."""
    options = getattr(control, "options", None)
    if options is not None:
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        return None if any(_same(v, value) for v in values) else \
            f"{value!r} is not among the options {values}"
    low, high, step = (getattr(control, k, None) for k in ("min", "max", "step"))
    if low is None or high is None or isinstance(value, (str, bool)):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return f"{value!r} is not a number"
    if type(control).__name__ == "FloatLogSlider":
        if value <= 0:
            return f"{value!r} is not positive (logarithmic slider)"
        position = math.log(value, control.base)  # the slider moves in exponents
    else:
        position = value
    if not low - 1e-9 * max(1.0, abs(low)) <= position <= high + 1e-9 * max(1.0, abs(high)):
        return f"{value!r} is outside the slider's range"
    if step:
        steps = (position - low) / step
        if abs(steps - round(steps)) > 1e-6:
            grid = f"exponents of {control.base}: " if type(control).__name__ == "FloatLogSlider" else ""
            return f"{value!r} lies between the slider's steps ({grid}min {low}, step {step})"
    return None


def explorer_classes() -> list:
    """Every explorer class in ``inferlab.explorers`` (one module per lesson), in module order."""
    import importlib
    import inspect
    import pkgutil
    from . import explorers as package
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Explorer) and cls is not Explorer and cls.__module__ == module.__name__:
                found.append(cls)
    return found


def render_png(fig) -> bytes:
    """The figure as PNG bytes, drawn by Agg and compressed lightly (fast, a little larger)."""
    fig.canvas.draw()
    return _png(fig.canvas)


def _png(canvas) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def _png_bytes(fig, dpi) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _display_png(png: bytes) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
        if get_ipython() is not None:
            display(Image(data=png, format="png"))
    except ImportError:  # pragma: no cover
        pass


def _display_html(text: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
        if get_ipython() is not None:
            display(HTML(no_maths(text)))
            return
    except ImportError:  # pragma: no cover
        pass
    print(text)
