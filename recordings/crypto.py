"""Encryption at rest for recordings: AES-256-GCM in 1 MiB chunks, streamed both ways.

File layout: ``MAGIC`` (6 bytes) · nonce prefix (8 bytes) · chunks, each ``len`` (4 bytes, big-endian)
then ciphertext+tag. A chunk's nonce is the prefix plus its index, and its associated data carries the
index and a last-chunk flag, so chunks cannot be reordered, dropped or the file truncated unnoticed.
Chunking keeps memory flat for hour-long calls and lets playback stream without decrypting to disk.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import TongdaiError

MAGIC = b"TDREC1"
CHUNK = 1 << 20
SUFFIX = ".enc"


class RecordingKeyError(TongdaiError):
    error_id = "recordings.bad_key"


class RecordingTampered(TongdaiError):
    error_id = "recordings.tampered"


def parse_key(text: str) -> bytes:
    """A 256-bit key from base64 (what ``tongdai recordings keygen`` prints)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise RecordingKeyError("recordings.encryption_key is not base64") from err
    if len(key) != 32:
        raise RecordingKeyError(f"recordings.encryption_key must be 32 bytes, got {len(key)}")
    return key


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _aad(index: int, last: bool) -> bytes:
    return MAGIC + struct.pack(">I?", index, last)


def encrypt_file(src: Path, dst: Path, key: bytes) -> None:
    """Write ``dst`` (via a temporary name, so a crash never leaves half a file under it)."""
    aes, prefix = AESGCM(key), os.urandom(8)
    tmp = dst.with_name(dst.name + ".part")
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        fout.write(MAGIC + prefix)
        chunk, index = fin.read(CHUNK), 0
        while True:
            following = fin.read(CHUNK)
            last = not following
            sealed = aes.encrypt(prefix + struct.pack(">I", index), chunk, _aad(index, last))
            fout.write(struct.pack(">I", len(sealed)) + sealed)
            if last:
                break
            chunk, index = following, index + 1
        fout.flush()
        os.fsync(fout.fileno())
    tmp.replace(dst)


def decrypt_chunks(path: Path, key: bytes) -> Iterator[bytes]:
    """The plaintext of ``path``, chunk by chunk; raises :class:`RecordingTampered` on any damage."""
    aes = AESGCM(key)
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + 8)
        if head[: len(MAGIC)] != MAGIC or len(head) != len(MAGIC) + 8:
            raise RecordingTampered(f"{path.name} is not an encrypted tongdai recording")
        prefix, index = head[len(MAGIC) :], 0
        size = f.read(4)
        while size:
            if len(size) != 4:
                raise RecordingTampered(f"{path.name} is truncated")
            sealed = f.read(struct.unpack(">I", size)[0])
            following = f.read(4)
            try:
                yield aes.decrypt(prefix + struct.pack(">I", index), sealed, _aad(index, not following))
            except InvalidTag as err:
                raise RecordingTampered(f"{path.name} failed authentication at chunk {index}") from err
            size, index = following, index + 1
        if index == 0:
            raise RecordingTampered(f"{path.name} has no content")


_HEAD = len(MAGIC) + 8
_TAG = 16  # AES-GCM's tag, after each chunk's ciphertext


def plain_size(path: Path) -> int:
    """The audio's size in clear, from the encrypted file's size alone: every chunk but the last holds
    exactly ``CHUNK`` bytes, each costs 4 (length) + 16 (tag) bytes more."""
    body = path.stat().st_size - _HEAD
    per = CHUNK + 4 + _TAG
    full, rest = divmod(body, per)
    if body < 4 + _TAG or (rest and rest < 4 + _TAG):
        raise RecordingTampered(f"{path.name} is truncated")
    if rest == 0:  # the last chunk was full (or the file ends on a boundary)
        return full * CHUNK
    return full * CHUNK + rest - 4 - _TAG


def decrypt_range(path: Path, key: bytes, start: int, end: int) -> Iterator[bytes]:
    """The plaintext bytes ``start`` … ``end`` (inclusive) of ``path``, decrypting only the chunks
    that hold them (a seek in an hour-long call reads one MiB, not the hour). Each chunk is
    authenticated with its index and, for the file's last chunk, the last-chunk flag, so a range
    read still refuses a reordered, altered or truncated file."""
    size = plain_size(path)
    if not 0 <= start <= end < size:
        raise ValueError(f"range {start}-{end} outside 0-{size - 1}")
    aes = AESGCM(key)
    last_index = (size - 1) // CHUNK
    with open(path, "rb") as f:
        head = f.read(_HEAD)
        if head[: len(MAGIC)] != MAGIC or len(head) != _HEAD:
            raise RecordingTampered(f"{path.name} is not an encrypted tongdai recording")
        prefix = head[len(MAGIC) :]
        for index in range(start // CHUNK, end // CHUNK + 1):
            f.seek(_HEAD + index * (CHUNK + 4 + _TAG))
            length = struct.unpack(">I", f.read(4))[0]
            sealed = f.read(length)
            try:
                plain = aes.decrypt(
                    prefix + struct.pack(">I", index), sealed, _aad(index, index == last_index)
                )
            except InvalidTag as err:
                raise RecordingTampered(f"{path.name} failed authentication at chunk {index}") from err
            base = index * CHUNK
            yield plain[max(start - base, 0) : end - base + 1]
