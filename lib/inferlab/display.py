"""Small display helpers: HTML tables for notebooks (plain text elsewhere)."""
from __future__ import annotations

import html


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

    @staticmethod
    def _text(value: str) -> str:
        """Plain text for HTML: escaped, and a dollar (money, never maths here) as ``\\$``,
        since JupyterLab typesets ``$...$`` in HTML outputs."""
        return html.escape(value).replace("$", "\\$")

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{self._text(str(c))}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{self._text(self._cell(r.get(c, '')))}</td>"
                                         for c in self.columns) + "</tr>" for r in self.rows)
        caption = f"<caption>{self._text(self.caption)}</caption>" if self.caption else ""
        return f'<table class="inferlab-table">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __repr__(self) -> str:
        widths = [max(len(str(c)), *(len(self._cell(r.get(c, ""))) for r in self.rows))
                  for c in self.columns]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(self.columns, widths))]
        lines += ["  ".join(self._cell(r.get(c, "")).ljust(w) for c, w in zip(self.columns, widths))
                  for r in self.rows]
        return (self.caption + "\n" if self.caption else "") + "\n".join(lines)
