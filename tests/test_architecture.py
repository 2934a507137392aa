"""House rules that import-linter cannot express."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_DOMAIN_IMPORTS = ("eventsourcing.domain", "shared.domain")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_domains_import_only_the_standard_library_and_eventsourcing_domain() -> None:
    """A domain that is a package (services/<name>/domain/) may also import itself."""
    domains = [
        *ROOT.glob("services/*/domain.py"),
        *ROOT.glob("services/*/domain/**/*.py"),
        ROOT / "shared/domain.py",
        ROOT / "shared/identity/domain.py",
    ]
    assert domains
    for path in domains:
        own = ""
        if "domain" in path.relative_to(ROOT).parts[:-1]:
            own = ".".join(path.relative_to(ROOT).parts[:3])  # services.<name>.domain
        for module in imports_of(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            if module.startswith(ALLOWED_DOMAIN_IMPORTS):
                continue
            if own and (module == own or module.startswith(own + ".")):
                continue
            raise AssertionError(f"{path.relative_to(ROOT)} imports {module}")


def test_files_stay_small_enough_to_read() -> None:
    """Aim under 300 lines; nothing grows past 600 unnoticed."""
    for path in [
        *ROOT.glob("shared/**/*.py"),
        *ROOT.glob("services/**/*.py"),
        *ROOT.glob("railyard/**/*.py"),
    ]:
        lines = len(path.read_text().splitlines())
        assert lines <= 600, f"{path.relative_to(ROOT)} has {lines} lines"


def test_every_text_box_of_a_page_says_its_limit() -> None:
    """A box with `maxlength` shows how much of it is used (railyard.js) and cannot take
    more than the domain keeps; without it a long answer was refused only once sent."""
    import re

    unbounded = [
        f"{path.relative_to(ROOT)}: {box}"
        for path in ROOT.glob("*/**/templates/*.html")
        for box in re.findall(r"<textarea[^>]*>", path.read_text())
        if "maxlength" not in box
    ]
    assert unbounded == []
