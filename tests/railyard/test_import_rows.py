"""What an import says of each row: the line an editor shows it on, a size or dates it
cannot take named with their values, and a spreadsheet's semicolon-separated file read."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from railyard.cli import app
from railyard.importer import Defaults, Reader, Rejected, Row
from shared.settings import load_settings

HEADER = "key,title,department,subsystems,submitted_at,accepted_at,delivered_at,status,size_points"


def read(tmp_path: Path, text: str) -> dict[str, Row | Rejected]:
    path = tmp_path / "rows.csv"
    path.write_text(text)
    reader = Reader(load_settings(), Defaults(owner="dev.alice"))
    return {r.key: r for r in reader.read(path)}


def test_a_row_after_a_cell_with_line_breaks_is_named_by_the_line_it_begins_on(
    tmp_path: Path,
) -> None:
    text = (
        f"{HEADER}\n"
        'OLD-1,"A title\nwith two\nbreaks",Sales,CRM,2024-01-03 09:00,,,submitted,\n'
        "OLD-2,Plain,Sales,Nowhere,2024-01-03 09:00,,,submitted,\n"
    )
    rows = read(tmp_path, text)
    assert rows["OLD-1"].line == 2
    assert rows["OLD-2"].line == 5  # the fifth line of the file, not its third row
    assert isinstance(rows["OLD-2"], Rejected)


def test_a_size_in_points_that_is_not_a_number_is_refused_not_replaced(tmp_path: Path) -> None:
    """'lots' was imported as the default 3 points without a word."""
    text = (
        f"{HEADER}\n"
        "OLD-1,Lots,Sales,CRM,2024-01-03 09:00,2024-01-04 09:00,,accepted,lots\n"
        "OLD-2,Eight,Sales,CRM,2024-01-03 09:00,2024-01-04 09:00,,accepted,8\n"
        "OLD-3,None,Sales,CRM,2024-01-03 09:00,2024-01-04 09:00,,accepted,\n"
    )
    rows = read(tmp_path, text)
    refused = rows["OLD-1"]
    assert isinstance(refused, Rejected)
    assert refused.reason == (
        "size_points 'lots' is not a whole number 1 to 1000 (size_points_invalid)"
    )
    assert [getattr(rows[k], "size_points", None) for k in ("OLD-2", "OLD-3")] == [8, 3]


def test_dates_that_go_backwards_are_named_with_their_values(tmp_path: Path) -> None:
    text = (
        f"{HEADER}\n"
        "OLD-4,Backwards,Sales,CRM,2024-03-10 09:00,2024-03-01 09:00,2024-03-20 09:00,delivered,\n"
    )
    (refused,) = read(tmp_path, text).values()
    assert isinstance(refused, Rejected)
    assert refused.reason == (
        "accepted 2024-03-01 09:00 is before submitted 2024-03-10 09:00 (dates_out_of_order)"
    )


def test_a_spreadsheets_semicolon_separated_file_is_read(tmp_path: Path) -> None:
    """Saved as CSV where the comma writes decimals (much of Europe), a spreadsheet
    separates the columns with semicolons: the file was refused as neither format."""
    text = f"{HEADER.replace(',', ';')}\nOLD-1;Café, menu;Sales;CRM;2024-01-03 09:00;;;submitted;\n"
    (row,) = read(tmp_path, text).values()
    assert isinstance(row, Row)
    assert (row.title, row.subsystems) == ("Café, menu", ["CRM"])


def test_an_unknown_category_option_is_refused_once_naming_the_categories(env: Path) -> None:
    """It rejected every row instead, never naming the categories there are."""
    assert CliRunner().invoke(app, ["migrate"]).exit_code == 0
    path = env / "rows.csv"
    path.write_text(f"{HEADER}\nOLD-1,One,Sales,CRM,2024-01-03 09:00,,,submitted,\n")
    result = CliRunner().invoke(
        app, ["import", "requests", str(path), "--category", "wishlist", "--dry-run"]
    )
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "--category 'wishlist' is not one of business_project, it_project" in said
    assert "OLD-1" not in said


def test_a_department_is_read_as_the_store_spells_it_and_a_new_one_is_said_once(
    env: Path,
) -> None:
    """ "sales" started a second department beside "Sales" (the metrics by department
    counted two) and a typo, "Slaes", a third, both without a word."""
    assert CliRunner().invoke(app, ["migrate"]).exit_code == 0
    path = env / "rows.csv"
    path.write_text(f"{HEADER}\nOLD-1,One,Sales,CRM,2024-01-03 09:00,,,submitted,\n")
    first = CliRunner().invoke(app, ["import", "requests", str(path)])
    assert first.exit_code == 0, first.output
    assert "'Sales' is a new department" in first.output
    path.write_text(
        f"{HEADER}\n"
        "OLD-2,Two,sales,CRM,2024-01-04 09:00,,,submitted,\n"
        "OLD-3,Three,Slaes,CRM,2024-01-04 09:00,,,submitted,\n"
        "OLD-4,Four,Slaes,CRM,2024-01-05 09:00,,,submitted,\n"
        "OLD-5,Five,Finance,CRM,2024-01-05 09:00,,,submitted,\n"
    )
    result = CliRunner().invoke(app, ["import", "requests", str(path)])
    assert result.exit_code == 0, result.output
    detail = {line.split("\t")[1]: line.split("\t")[3] for line in result.output.splitlines()
              if line.startswith(("2\t", "3\t", "4\t", "5\t"))}  # fmt: skip
    assert detail["OLD-2"] == "submitted; department 'sales' read as 'Sales'"
    assert detail["OLD-3"] == "submitted; 'Slaes' is a new department: did you mean 'Sales'?"
    assert detail["OLD-4"] == "submitted"  # said once
    assert detail["OLD-5"].startswith("submitted; 'Finance' is a new department (known: ")
