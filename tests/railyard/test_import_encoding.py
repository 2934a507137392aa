"""A CSV file in another character encoding than UTF-8 (as a spreadsheet on Windows saves
one): refused naming its line and the option, or read with --encoding."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from railyard.cli import app

runner = CliRunner()


# A test on the command's own store (`env`) imports into one made by `railyard migrate`.
pytestmark = pytest.mark.usefixtures("store_when_env")


HEADER = "key,title,department,subsystems,submitted_at\n"
ROWS = "OLD-8,Plain,Sales,Billing,2024-01-03 09:00\nOLD-9,Café menu,Sales,CRM,2024-01-03 09:00\n"


def test_a_file_not_in_utf8_names_its_line_and_the_encoding_option(env: Path) -> None:
    path = env / "excel.csv"
    path.write_bytes((HEADER + ROWS).encode("cp1252"))
    result = runner.invoke(app, ["import", "requests", str(path), "--dry-run"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"line 3 of {path} is not UTF-8 (byte 0xE9 at column 10)" in result.output
    assert "--encoding cp1252" in result.output


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_a_file_saved_by_a_spreadsheet_on_windows_is_read_with_its_encoding(
    env: Path, encoding: str
) -> None:
    path = env / "excel.csv"
    path.write_bytes((HEADER + ROWS).encode(encoding))
    result = runner.invoke(
        app, ["import", "requests", str(path), "--dry-run", "--encoding", encoding]
    )
    assert result.exit_code == 0, result.output
    assert "2 would import" in result.stdout


def test_utf8_is_read_with_or_without_a_byte_order_mark(env: Path) -> None:
    for name, data in (("plain", b""), ("bom", b"\xef\xbb\xbf")):
        path = env / f"{name}.csv"
        path.write_bytes(data + (HEADER + ROWS).encode())
        for given in ([], ["--encoding", "UTF-8"]):
            result = runner.invoke(app, ["import", "requests", str(path), "--dry-run", *given])
            assert result.exit_code == 0, (name, given, result.output)
            assert "2 would import" in result.stdout


def test_an_unknown_encoding_is_refused_before_any_row(env: Path) -> None:
    path = env / "requests.csv"
    path.write_text(HEADER + ROWS)
    result = runner.invoke(app, ["import", "requests", str(path), "--encoding", "klingon"])
    assert result.exit_code == 2
    assert "--encoding 'klingon' is not an encoding" in result.output
    assert "cp1252" in result.output
