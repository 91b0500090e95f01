"""Property-based tests of the recipients file reader: whatever the bytes, a ValidationError or a
correct parse — never a UnicodeDecodeError, csv.Error, OSError or any other surprise."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.recipients import load_recipients

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PHONES = st.integers(min_value=0, max_value=9999).map(lambda n: f"+1415555{n:04d}")
# Any printable text a spreadsheet cell can hold (quotes, commas and line breaks included).
# (A lone "\r" is left out: csv.writer does not quote it under a "\n" terminator, so no reader could.)
CELL = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from([",", '"', "\n", ";", "\t"]),
               max_size=30)
ROWS = st.lists(st.tuples(PHONES, CELL, CELL), min_size=1, max_size=25)
NEWLINES = st.sampled_from(["\n", "\r\n"])


def write(data: bytes, suffix: str) -> str:
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)  # noqa: SIM115 - closed below
    with handle:
        handle.write(data)
    return handle.name


def read(data: bytes, suffix: str = ".csv") -> list | None:
    """The reader's answer, or None when it refused with a ValidationError (the only allowed error)."""
    path = write(data, suffix)
    try:
        return load_recipients(path)
    except ValidationError:
        return None
    finally:
        Path(path).unlink()


def csv_bytes(rows: list[tuple[str, str, str]], encoding: str, newline: str) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator=newline)
    writer.writerow(["phone", "name", "1"])
    writer.writerows(rows)
    return text.getvalue().encode(encoding)


def expected(rows: list[tuple[str, str, str]]) -> list[tuple[str, str | None, dict[str, str]]]:
    seen: dict[str, tuple[str, str | None, dict[str, str]]] = {}
    for phone, name, param in rows:
        seen.setdefault(phone, (phone, name or None, {"1": param} if param else {}))
    return list(seen.values())


def parsed(recipients: list) -> list[tuple[str, str | None, dict[str, str]]]:
    return [(r.phone, r.name, dict(r.params)) for r in recipients]


@SETTINGS
@given(data=st.binary(max_size=2_000), suffix=st.sampled_from([".csv", ".jsonl", ".txt"]))
def test_random_bytes_are_parsed_or_refused(data, suffix):
    result = read(data, suffix)
    assert result is None or all(r.phone.startswith("+") for r in result)


@SETTINGS
@given(rows=ROWS, encoding=st.sampled_from(["utf-8", "utf-8-sig"]), newline=NEWLINES)
def test_utf8_with_or_without_bom_parses_exactly(rows, encoding, newline):
    """Excel's "CSV UTF-8" writes a byte-order mark: the header must still read ``phone``."""
    result = read(csv_bytes(rows, encoding, newline))
    assert result is not None
    assert parsed(result) == expected(rows)


@SETTINGS
@given(rows=ROWS, encoding=st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-32", "shift_jis"]))
def test_other_encodings_are_parsed_correctly_or_refused(rows, encoding):
    try:
        data = csv_bytes(rows, encoding, "\n")
    except UnicodeEncodeError:
        return  # the text cannot even be written in that encoding
    result = read(data)
    if result is not None:
        assert [r.phone for r in result] == [p for p, _, _ in expected(rows)]


@SETTINGS
@given(rows=ROWS, bad_row=st.integers(min_value=0, max_value=24), bad=st.sampled_from([b"\xff", b"\xe9t\xe9", b"\xc3"]))
def test_an_undecodable_line_is_named(rows, bad_row, bad):
    lines = csv_bytes(rows, "utf-8", "\n").split(b"\n")
    index = 1 + bad_row % len(rows)  # a data line (1 = the first after the header)
    lines[index] = lines[index] + b"," + bad
    with pytest.raises(ValidationError) as info:
        load_recipients(write(b"\n".join(lines), ".csv"))
    assert "UTF-8" in str(info.value)
    assert f"line {index + 1}" in str(info.value)


@SETTINGS
@given(size=st.integers(min_value=131_073, max_value=300_000), where=st.sampled_from(["name", "param"]))
def test_a_huge_field_is_refused_with_its_line(size, where):
    cell = "x" * size
    rows = [("+14155550101", cell, "") if where == "name" else ("+14155550101", "Ann", cell)]
    with pytest.raises(ValidationError, match="line 2"):
        load_recipients(write(csv_bytes(rows, "utf-8", "\n"), ".csv"))


@SETTINGS
@given(columns=st.lists(st.sampled_from(["name", "city", "1", "2", "email"]), min_size=1, max_size=4, unique=True),
       rows=st.integers(min_value=1, max_value=5))
def test_missing_phone_column_is_refused_naming_the_columns(columns, rows):
    text = ",".join(columns) + "\n" + "\n".join(",".join("v" for _ in columns) for _ in range(rows)) + "\n"
    with pytest.raises(ValidationError, match="phone"):
        load_recipients(write(text.encode(), ".csv"))


@SETTINGS
@given(rows=ROWS, bom=st.booleans())
def test_jsonl_parses_exactly(rows, bom):
    lines = [json.dumps({"phone": p, "name": n, "params": {"1": v} if v else {}}) for p, n, v in rows]
    data = ("\n".join(lines) + "\n").encode("utf-8-sig" if bom else "utf-8")
    result = read(data, ".jsonl")
    assert result is not None
    assert parsed(result) == expected(rows)
