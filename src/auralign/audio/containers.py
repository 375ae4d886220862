"""Truncation seen from the container: the audio size a header declares against the bytes present.

libsndfile accepts many cut files silently (it decodes what is there and reports the header's frame
count), notably AU, AIFF, W64, RF64 and Ogg Opus. `declared_truncation` reads only headers and the
file's tail, so it costs a few kilobytes of I/O whatever the file's length.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

_W64_RIFF = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_W64_DATA = b"data\xf3\xac\xd3\x11\x8c\xd1\x00\xc0\x4f\x8e\xdb\x8a"
# Sizes that streaming writers leave when they cannot seek back: "unknown", not truncation.
_UNKNOWN_32 = frozenset({0, 0xFFFFFFFF})
_OGG_TAIL = 1 << 16
_MAX_CHUNKS = 10_000


def declared_truncation(handle: BinaryIO, file_size: int) -> str | None:
    """A one-line reason if the header declares more audio than the file holds, else None."""
    head = handle.read(16)
    handle.seek(0)
    if head.startswith(b".snd"):
        return _au(handle, file_size)
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return _chunks(handle, file_size, start=12, big_endian=True, audio_id=b"SSND")
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return _chunks(handle, file_size, start=12, big_endian=False, audio_id=b"data")
    if head.startswith(_W64_RIFF):
        return _w64(handle, file_size)
    if head.startswith(b"OggS"):
        return _ogg(handle, file_size)
    return None


def _short(declared: int, present: int) -> str:
    return f"truncated (header declares {declared} bytes of audio, file holds {max(present, 0)})"


def _au(handle: BinaryIO, file_size: int) -> str | None:
    header = handle.read(12)
    if len(header) < 12:
        return "truncated (incomplete AU header)"
    offset, size = struct.unpack(">II", header[4:12])
    if size in _UNKNOWN_32 or offset + size <= file_size:
        return None
    return _short(size, file_size - offset)


def _chunks(handle: BinaryIO, file_size: int, *, start: int, big_endian: bool, audio_id: bytes) -> str | None:
    """Walk RIFF/AIFF chunks to the audio chunk; RF64's real data size comes from its `ds64` chunk."""
    fmt = ">I" if big_endian else "<I"
    position, ds64_data_size = start, None
    for _ in range(_MAX_CHUNKS):
        if position >= file_size:
            return None
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            return None
        chunk_id, (size,) = header[:4], struct.unpack(fmt, header[4:])
        if chunk_id == b"ds64":
            body = handle.read(16)
            ds64_data_size = struct.unpack("<Q", body[8:16])[0] if len(body) == 16 else None
        if chunk_id == audio_id:
            if size == 0xFFFFFFFF and ds64_data_size is not None:
                size = ds64_data_size
            elif size in _UNKNOWN_32:
                return None
            present = file_size - position - 8
            return _short(size, present) if size > present else None
        position += 8 + size + (size & 1)
    return None


def _w64(handle: BinaryIO, file_size: int) -> str | None:
    position = 40  # riff GUID + size + wave GUID
    for _ in range(_MAX_CHUNKS):
        if position >= file_size:
            return None
        handle.seek(position)
        header = handle.read(24)
        if len(header) < 24:
            return None
        (size,) = struct.unpack("<Q", header[16:24])
        if header[:16] == _W64_DATA:
            present = file_size - position
            return _short(size - 24, present - 24) if size > present else None
        if size < 24:
            return None
        position += (size + 7) & ~7
    return None


def _ogg(handle: BinaryIO, file_size: int) -> str | None:
    """The last page must be whole and carry the end-of-stream flag."""
    tail_start = max(0, file_size - _OGG_TAIL)
    handle.seek(tail_start)
    tail = handle.read()
    page = tail.rfind(b"OggS")
    while page >= 0 and (len(tail) - page < 27 or tail[page + 4] != 0):
        page = tail.rfind(b"OggS", 0, page)
    if page < 0:
        return None
    segments = tail[page + 26]
    lacing = tail[page + 27 : page + 27 + segments]
    end = page + 27 + segments + sum(lacing)
    if len(lacing) < segments or end > len(tail):
        return "truncated (the last Ogg page is cut short)"
    if not tail[page + 5] & 0x04:
        return "truncated (the Ogg stream has no end-of-stream page)"
    return None
