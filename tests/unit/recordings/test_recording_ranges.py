"""Byte-range parsing and range decryption of recordings encrypted at rest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recordings import crypto
from recordings.ranges import RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (None, None),
        ("", None),
        ("bytes=0-", (0, 999)),
        ("bytes=10-19", (10, 19)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=-1", (999, 999)),
        ("bytes=-5000", (0, 999)),
    ],
)
def test_ranges(header: str | None, want: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == want


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=5-2", "bytes=-0", "bytes=0-1,5-6", "items=0-1", "bytes=-"]
)
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


@pytest.mark.parametrize("size", [1, 1000, crypto.CHUNK, crypto.CHUNK + 1, 2 * crypto.CHUNK + 7])
def test_decrypt_range_equals_the_clear_bytes(tmp_path: Path, size: int) -> None:
    key = crypto.parse_key(crypto.new_key())
    clear = os.urandom(size)
    (tmp_path / "a.wav").write_bytes(clear)
    crypto.encrypt_file(tmp_path / "a.wav", tmp_path / "a.wav.enc", key)
    enc = tmp_path / "a.wav.enc"
    assert crypto.plain_size(enc) == size
    for first, last in {
        (0, size - 1),
        (0, 0),
        (size - 1, size - 1),
        (size // 2, size - 1),
        (size // 3, size // 2),
    }:
        got = b"".join(crypto.decrypt_range(enc, key, first, last))
        assert got == clear[first : last + 1], (first, last)


def test_a_range_read_still_refuses_a_damaged_or_truncated_file(tmp_path: Path) -> None:
    key = crypto.parse_key(crypto.new_key())
    (tmp_path / "a.wav").write_bytes(os.urandom(crypto.CHUNK + 500))
    crypto.encrypt_file(tmp_path / "a.wav", tmp_path / "a.wav.enc", key)
    enc = tmp_path / "a.wav.enc"
    sealed = bytearray(enc.read_bytes())
    sealed[-3] ^= 1  # inside the last chunk's tag
    enc.write_bytes(bytes(sealed))
    with pytest.raises(crypto.RecordingTampered):
        b"".join(crypto.decrypt_range(enc, key, crypto.CHUNK, crypto.CHUNK + 10))
    b"".join(crypto.decrypt_range(enc, key, 0, 10))  # the first chunk is intact and still plays
    # Dropping the last chunk leaves a full first chunk that is not marked last: refused.
    enc.write_bytes(bytes(sealed[: 14 + 4 + crypto.CHUNK + 16]))
    with pytest.raises(crypto.RecordingTampered):
        b"".join(crypto.decrypt_range(enc, key, 0, 10))
