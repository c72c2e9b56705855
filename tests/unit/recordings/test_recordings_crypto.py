"""Encryption at rest: round trip across chunk boundaries, and any damage or truncation is detected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recordings import crypto

KEY = crypto.parse_key(crypto.new_key())


@pytest.mark.parametrize("size", [0, 1, crypto.CHUNK - 1, crypto.CHUNK, 2 * crypto.CHUNK + 7])
def test_round_trip(tmp_path: Path, size: int) -> None:
    clear = os.urandom(size)
    (tmp_path / "a.wav").write_bytes(clear)
    crypto.encrypt_file(tmp_path / "a.wav", tmp_path / "a.wav.enc", KEY)
    sealed = (tmp_path / "a.wav.enc").read_bytes()
    assert sealed.startswith(crypto.MAGIC) and (size < 16 or clear[:16] not in sealed)
    assert b"".join(crypto.decrypt_chunks(tmp_path / "a.wav.enc", KEY)) == clear
    assert not (tmp_path / "a.wav.enc.part").exists()


def _sealed(tmp_path: Path, size: int) -> Path:
    (tmp_path / "a.wav").write_bytes(os.urandom(size))
    crypto.encrypt_file(tmp_path / "a.wav", tmp_path / "a.wav.enc", KEY)
    return tmp_path / "a.wav.enc"


def test_flipped_byte_wrong_key_and_truncation_are_refused(tmp_path: Path) -> None:
    path = _sealed(tmp_path, 2 * crypto.CHUNK + 100)
    data = bytearray(path.read_bytes())
    with pytest.raises(crypto.RecordingTampered):
        list(crypto.decrypt_chunks(path, crypto.parse_key(crypto.new_key())))
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    path.write_bytes(bytes(flipped))
    with pytest.raises(crypto.RecordingTampered):
        list(crypto.decrypt_chunks(path, KEY))
    # Cut exactly after the first chunk: every remaining chunk is intact, yet the loss is seen.
    first_len = int.from_bytes(data[14:18], "big")
    path.write_bytes(bytes(data[: 18 + first_len]))
    with pytest.raises(crypto.RecordingTampered, match="chunk 0"):
        list(crypto.decrypt_chunks(path, KEY))
    path.write_bytes(b"RIFF....WAVE")
    with pytest.raises(crypto.RecordingTampered, match="not an encrypted"):
        list(crypto.decrypt_chunks(path, KEY))


@pytest.mark.parametrize("text", ["not base64!", "c2hvcnQ="])
def test_bad_keys_are_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(crypto.RecordingKeyError, match="encryption_key"):
        crypto.parse_key(text)
