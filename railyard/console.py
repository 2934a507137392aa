"""The command line's two streams, and how it prints a text that is not its own.

A message from the server or the store (a change's title, a refusal's detail, a value a
person typed) is printed as it is: never read as rich markup, where "[/etc/ssl]" in a
change's title crashed `railyard gate` and "[billing]" vanished, and never broken across
lines, so that a command it names can be copied whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

out = Console()
err = Console(stderr=True)


def say(text: str, style: str | None = None, console: Console = err) -> None:
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def print_rows(
    console: Console,
    columns: Sequence[str | Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    styles: Sequence[str] = (),
) -> None:
    """A table on a terminal; piped or redirected, a line of the column names, then one
    tab-separated line per row, whole, so that grep finds a row with its key and cut its
    columns (a table is drawn 80 columns wide there: "vp.billing…", and a long text wraps
    onto lines without its key). `title`, when given, is the first line; `styles`, one per
    row, colour the table's rows."""
    if not console.is_terminal:
        names = [str(c.header) if isinstance(c, Column) else c for c in columns]
        lines = ([title] if title is not None else []) + ["\t".join(names)]
        lines += ["\t".join(_cell(value) for value in row) for row in rows]
        console.file.write("".join(f"{line}\n" for line in lines))
        console.file.flush()
        return
    table = Table(*columns, title=Text(title) if title is not None else None)
    for n, row in enumerate(rows):
        # The store's text as written: "[billing]" is not rich markup.
        table.add_row(*(Text(value) for value in row), style=styles[n] if n < len(styles) else "")
    console.print(table)


def _cell(text: str) -> str:
    """A value on one line of its own column: a tab or line break in it is a space."""
    return " ".join(text.replace("\t", " ").splitlines())
