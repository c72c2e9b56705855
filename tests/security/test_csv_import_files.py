"""Hostile or broken CSV files never crash the import nor half-load it: each encoding problem, NUL byte,
over-size field or file, missing file or directory is one clear error naming the file (and the row and
column), and nothing is written. Real files on disk, real SQLite, the real CLI."""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import Base, create_engine, session_factory
from crm_bridge.importer import ImportLimits, ImportRejected, import_csv
from tests.integration.crm_bridge.test_crm_importer import CUSTOMERS, SUBSCRIPTIONS, counts
from tests.support.settings import REPO
from tongdai.cli import main

# Row 2 of CUSTOMERS is Đỗ Thị Hoa; row 4 is Bùi Văn Tùng of Đà Nẵng.
HEADER = CUSTOMERS.splitlines()[0].lstrip("\ufeff")
ASCII_CUSTOMERS = HEADER + "\nKH0000100009,Nguyen Van A,individual,,,Ha Noi,1,,\n"


_TONES = "\u0300\u0301\u0303\u0309\u0323"  # the five tone marks Windows-1258 writes as combining


def cp1258(text: str) -> bytes:
    """Vietnamese as Windows-1258 stores it (base letters precomposed, tones combining)."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            out.append((base + "".join(c for c in parts if c in _TONES)).encode("cp1258"))
    return b"".join(out)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}")
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield eng
    await eng.dispose()


async def rejected(engine: AsyncEngine, limits: ImportLimits | None = None, **paths: Path) -> ImportRejected:
    """The import's refusal, after checking that it wrote nothing at all."""
    sessions = session_factory(engine)
    with pytest.raises(ImportRejected) as info:
        await import_csv(sessions, limits=limits, **paths)  # type: ignore[arg-type]
    assert set((await counts(sessions)).values()) == {0}
    return info.value


def put(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("encoding", "where"),
    [
        ("cp1258", (2, "full_name", "0xD0")),  # Windows-1258: "Đ" is 0xD0, not UTF-8
        ("latin-1", (3, "full_name", "0xE9")),  # "é" of José
    ],
)
async def test_a_file_not_saved_as_utf8_names_the_first_bad_field(
    engine: AsyncEngine, tmp_path: Path, encoding: str, where: tuple[int, str, str]
) -> None:
    row, column, byte = where
    text = CUSTOMERS.lstrip("\ufeff")
    if encoding == "latin-1":  # Latin-1 cannot hold Vietnamese: a foreign customer's name
        text = ASCII_CUSTOMERS + "KH0000100010,José Pérez,individual,,,Ha Noi,1,,\n"
    data = cp1258(text) if encoding == "cp1258" else text.encode(encoding)
    path = put(tmp_path, "customers.csv", data)
    err = await rejected(engine, customers=path)
    # One error for the file (its first bad field, and how many more), not one per field.
    assert len(err.errors) == 1, err.errors
    first = err.errors[0]
    assert (first.file, first.row, first.column) == ("customers.csv", row, column), err.errors
    assert f"byte {byte} is not UTF-8" in first.reason and "CSV UTF-8" in first.reason
    assert "\n" not in str(err) and f"customers.csv row {row}, column {column}: byte {byte}" in str(err)
    if encoding == "cp1258":
        assert "(and 6 more field(s) like it)" in first.reason


async def test_utf16_with_a_byte_order_mark_is_named_as_such(engine: AsyncEngine, tmp_path: Path) -> None:
    path = put(tmp_path, "customers.csv", CUSTOMERS.lstrip("\ufeff").encode("utf-16"))
    err = await rejected(engine, customers=path)
    assert [str(e) for e in err.errors] == [
        f"{path}: the file is UTF-16 (it starts with a UTF-16 byte-order mark): "
        'save it as "CSV UTF-8" (Excel: Save As → CSV UTF-8)'
    ]


async def test_utf16_without_a_mark_and_a_stray_nul_are_refused(engine: AsyncEngine, tmp_path: Path) -> None:
    path = put(tmp_path, "customers.csv", CUSTOMERS.lstrip("\ufeff").encode("utf-16-le"))
    err = await rejected(engine, customers=path)
    assert (err.errors[0].row, "NUL byte") == (1, "NUL byte") and "NUL byte" in err.errors[0].reason
    nul = CUSTOMERS.replace("Bùi Văn Tùng", "Bùi Văn\x00Tùng").encode("utf-8")
    err = await rejected(engine, customers=put(tmp_path, "customers.csv", nul))
    assert [(e.row, e.column) for e in err.errors] == [(4, "full_name")]
    assert "NUL byte" in err.errors[0].reason


async def test_an_over_size_field_is_refused_with_its_row_and_column(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    huge = CUSTOMERS.replace("Đà Nẵng", "Đà Nẵng " + "x" * 128 * 1024)
    err = await rejected(engine, customers=put(tmp_path, "customers.csv", huge.encode()))
    assert [(e.row, e.column) for e in err.errors] == [(4, "province")]
    assert "over the limit of 16,384" in err.errors[0].reason
    # An unclosed quote swallows the rest of the file into one field: named too, not a traceback.
    unclosed = CUSTOMERS.replace("Bùi Văn Tùng", '"Bùi Văn Tùng') + ("KH0000100004,Lê An,,,,,0,,\n" * 2000)
    err = await rejected(engine, customers=put(tmp_path, "customers.csv", unclosed.encode()))
    assert err.errors[0].column == "full_name"
    assert "unclosed quote" in err.errors[0].reason


async def test_an_over_size_file_missing_file_and_directory_are_refused(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    big = put(tmp_path, "customers.csv", CUSTOMERS.encode())
    err = await rejected(engine, ImportLimits(max_file_bytes=100), customers=big)
    assert str(err) == (
        f"import rejected, nothing written: {big}: is {big.stat().st_size:,} bytes, over the limit of 100 "
        "(crm.csv_import.max_file_mb)"
    )
    err = await rejected(engine, customers=tmp_path / "nope.csv")
    assert str(err.errors[0]) == f"{tmp_path / 'nope.csv'}: no such file"
    (tmp_path / "folder.csv").mkdir()
    err = await rejected(engine, customers=tmp_path / "folder.csv")
    assert "is a directory, not a CSV file" in str(err)


async def test_one_bad_file_keeps_the_good_ones_out_too(engine: AsyncEngine, tmp_path: Path) -> None:
    good = put(tmp_path, "customers.csv", CUSTOMERS.encode())
    bad = put(tmp_path, "subscriptions.csv", SUBSCRIPTIONS.replace("Cố định", "C\x00 định").encode())
    err = await rejected(engine, customers=good, subscriptions=bad)
    assert [(e.file, e.row, e.column) for e in err.errors] == [("subscriptions.csv", 4, "package")]


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("TONGDAI__DATABASE__URL", f"sqlite+aiosqlite:///{db}")
    monkeypatch.setenv("TONGDAI__REDIS__URL", "")
    return db


@pytest.mark.parametrize("case", ["missing", "directory", "cp1258"])
def test_the_cli_says_it_in_one_line_and_exits_non_zero(
    cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path = tmp_path / "customers.csv"
    if case == "directory":
        path.mkdir()
    elif case == "cp1258":
        path.write_bytes(cp1258(CUSTOMERS.lstrip("\ufeff")))
    rc = main(["-c", str(REPO / "config.yaml"), "crm", "import", "--customers", str(path)])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tongdai: [crm.import_rejected] import rejected"), err
    expected = {
        "missing": f"{path}: no such file",
        "directory": f"{path}: is a directory",
        "cp1258": "customers.csv row 2, column full_name: byte 0xD0 is not UTF-8",
    }[case]
    assert expected in lines[0]
    assert not cli_db.exists()  # every file is read before the database is even opened


def test_bom_constants_are_what_the_files_start_with() -> None:
    assert "x".encode("utf-16").startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
