"""The command line's two streams, and how it prints a text that is not its own.

A message from the server or the store (a change's title, a refusal's detail, a value a
person typed) is printed as it is: never read as rich markup, where "[/etc/ssl]" in a
change's title crashed `railyard gate` and "[billing]" vanished, and never broken across
lines, so that a command it names can be copied whole.
"""

from __future__ import annotations

from rich.console import Console

out = Console()
err = Console(stderr=True)


def say(text: str, style: str | None = None, console: Console = err) -> None:
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)
