"""The locator finds the line of a key path in TOML text."""

from __future__ import annotations

from adapter.config.locator import Locator, format_key

TEXT = """\
# comment
[clinic]
name = "x"
[clinic.address]
street = "y"

[practitioners.ingar]
stands_in_for = "b"
away = [
  { from = 2026-11-16, to = 2026-11-20 },
]
x.y = 3
"quoted.key" = 4
[[templates]]
a = 1
description = \"\"\"
notakey = 1
\"\"\"
[[templates]]
hours = ["08:00",
   "09:00"]
b = 2
"""


def test_locates_keys_tables_and_arrays_of_tables() -> None:
    where = Locator(TEXT)
    assert where.line_of(("clinic",)) == 2
    assert where.line_of(("clinic", "name")) == 3
    assert where.line_of(("clinic", "address", "street")) == 5
    assert where.line_of(("practitioners", "ingar", "stands_in_for")) == 8
    assert where.line_of(("practitioners", "ingar", "x", "y")) == 12
    assert where.line_of(("practitioners", "ingar", "quoted.key")) == 13
    assert where.line_of(("templates", 0, "a")) == 15
    assert where.line_of(("templates", 1, "hours")) == 20
    assert where.line_of(("templates", 1, "b")) == 22


def test_missing_key_points_at_its_table_and_values_spanning_lines_are_skipped() -> None:
    where = Locator(TEXT)
    assert where.line_of(("practitioners", "ingar", "her_id")) == 7
    assert where.line_of(("practitioners", "ingar", "away", 0, "from")) == 9
    assert where.line_of(("templates", 0, "notakey")) == 14
    assert where.line_of(("nowhere",)) == 0


def test_format_key() -> None:
    assert format_key(("templates", 2, "hours")) == "templates[2].hours"
    assert format_key(("clinic", "address")) == "clinic.address"
