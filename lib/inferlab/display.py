"""Small display helpers: HTML tables for notebooks (plain text elsewhere), and HTML that
JupyterLab shows as text, not maths.

JupyterLab runs MathJax over HTML outputs too: the text between two dollars ("at $4.29 per
GPU-hour, 50% utilised, $1.10") is typeset as italic maths, and the ``%`` starts a TeX
comment that hides the rest. Checked in JupyterLab 4.6 in Chromium: ``\\$`` in the HTML shows
a plain dollar (MathJax's processEscapes); ``&#36;`` does not help (MathJax reads the text
after the entity is decoded), nor does a ``tex2jax_ignore`` class. Every HTML the library
hands to a notebook's display goes through ``no_maths``. (ipywidgets' ``HTML`` widget is not
typeset: the live explorers' summaries keep plain dollars.)
"""
from __future__ import annotations

import html
import re

_DOLLAR = re.compile(r"(?<!\\)\$")


def no_maths(markup: str) -> str:
    """``markup`` with every dollar written ``\\$``, so JupyterLab shows it as a dollar, not as
    the start of maths. Dollars already written ``\\$`` are kept (the function is idempotent)."""
    return _DOLLAR.sub(r"\\$", markup)


class Table:
    """Rows of dicts shown as an HTML table in a notebook and as text in a terminal."""

    def __init__(self, rows: list, columns: list | None = None, caption: str = ""):
        self.rows = list(rows)
        self.columns = columns or (list(self.rows[0]) if self.rows else [])
        self.caption = caption

    @staticmethod
    def _cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.3g}"
        return str(value)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(self._cell(r.get(c, '')))}</td>"
                                         for c in self.columns) + "</tr>" for r in self.rows)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return no_maths(f'<table class="inferlab-table">{caption}<thead><tr>{head}</tr></thead>'
                        f'<tbody>{body}</tbody></table>')

    def __repr__(self) -> str:
        widths = [max(len(str(c)), *(len(self._cell(r.get(c, ""))) for r in self.rows))
                  for c in self.columns]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(self.columns, widths))]
        lines += ["  ".join(self._cell(r.get(c, "")).ljust(w) for c, w in zip(self.columns, widths))
                  for r in self.rows]
        return (self.caption + "\n" if self.caption else "") + "\n".join(lines)
