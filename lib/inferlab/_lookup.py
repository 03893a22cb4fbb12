"""Forgiving name look-up shared by the hardware and model catalogues."""
from __future__ import annotations

import difflib
import re


class UnknownNameError(KeyError, ValueError):
    """Raised for a name that is in no catalogue; the message lists the closest names.

    It is both a ``KeyError`` and a ``ValueError`` so that either ``except`` catches it.
    """

    def __str__(self) -> str:  # KeyError would quote the message; show it plainly
        return str(self.args[0]) if self.args else ""


def normalise(name: str) -> str:
    """Lower-case ``name`` and drop spaces, '-', '_' and '.' so "H100 SXM" matches "H100-SXM"."""
    return re.sub(r"[\s\-_.]+", "", str(name).lower())


def index(entries) -> dict:
    """A look-up table: each entry under its normalised ``name`` and ``aliases`` (first wins)."""
    table = {}
    for entry in entries:
        for name in (entry.name, *entry.aliases):
            table.setdefault(normalise(name), entry)
    return table


def data_rows(filename: str) -> list:
    """The rows of a CSV file in ``inferlab/data`` as dicts."""
    import csv
    from importlib import resources
    text = resources.files("inferlab").joinpath("data", filename).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def find(name, table: dict, what: str):
    """Return ``table[key]`` whose key or alias matches ``name`` forgivingly.

    ``table`` maps a normalised name (canonical or alias) to an entry that has ``.name``.
    """
    if not isinstance(name, str):
        raise UnknownNameError(f"{what} name must be a string, got {name!r}")
    key = normalise(name)
    if key in table:
        return table[key]
    canonical = sorted({entry.name for entry in table.values()})
    by_key = {normalise(n): n for n in canonical}
    close = difflib.get_close_matches(key, list(by_key), n=4, cutoff=0.5)
    close += [k for k in by_key if key and key in k]
    suggestions = list(dict.fromkeys(by_key[k] for k in close))[:4]  # each name once
    hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
    raise UnknownNameError(
        f"unknown {what} {name!r}.{hint} Known names: {', '.join(canonical)}."
    )
