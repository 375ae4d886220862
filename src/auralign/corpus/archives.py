"""Readers of the archives packages keep their sounds in, and the one way extracted files are written.

* zip (0 A.D.'s `public.zip`, Warzone 2100's `base.wz`, UFO:AI's `0snd.pk3`): `extract_zip_audio`;
* OpenTTD's sample catalogue (`opensfx.cat`): `read_cat`;
* OpenClonk's packed group files (C4Group, `Sound.ocg`): `c4group_members`, `extract_c4group_audio`;
* Qt resource bundles (GCompris's `.rcc`): `rcc_members`.
"""

from __future__ import annotations

import gzip
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from auralign.audio.io import AUDIO_EXTENSIONS
from auralign.corpus.path_rules import RuleTable
from auralign.errors import AuralignError


def write_extracted(path: Path, data: bytes) -> None:
    """Write a file copied out of a package archive through a `.part` file, so an interrupted build
    never leaves a truncated file that the next build (which keeps existing files) takes as done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)


def extract_zip_audio(zip_path: Path, target: Path, table: RuleTable, prefix: str = "audio/") -> None:
    """Copy the members under `prefix` that `table` labels (on their path below `prefix`) out of the zip
    into `target` (once: existing files are kept)."""
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.infolist():
            if not member.filename.startswith(prefix) or member.is_dir():
                continue
            relative = member.filename.removeprefix(prefix)
            out = target / relative
            if not out.is_file() and table.label(relative) is not None:
                write_extracted(out, archive.read(member))


# OpenTTD: a catalogue entry is written as "<index>_<title>.wav", the title being the quoted name in the
# entry's description ("Cow", "Ship horn").
_QUOTED = re.compile(r'"([^"]+)"')
_ORIGINAL = re.compile(r'Original "([^"]+)"')
_TAKE_SUFFIX = re.compile(r"([\s_-]*\d+[a-z]?)?(\.(wav|mp3|aiff?|flac|ogg))?$")
_SLUG = re.compile(r"[^a-z0-9]+")
_NEW_FORMAT = 0x80000000


@dataclass(frozen=True)
class CatEntry:
    """One sound of an OpenTTD sample catalogue."""

    index: int
    description: str  # '"Cow". Original "Cow - Moan 2 - 96kHz.wav" by "Jarred Gib". ...'
    filename: str  # the file it was built from ("src/wav/osfx_37.wav")
    wav: bytes  # a complete RIFF/WAVE file

    @property
    def title(self) -> str:
        found = _QUOTED.match(self.description)
        return found.group(1) if found else self.description.split(".")[0]

    @property
    def stem(self) -> str:
        return f"{self.index:02d}_{_SLUG.sub('_', self.title.lower()).strip('_')}"

    @property
    def recording(self) -> str:
        """The original recording the sound was edited from, else its title, without its extension
        and take number ("Bird Noise - 12.wav" -> "bird noise"): its split group."""
        found = _ORIGINAL.search(self.description)
        name = (found.group(1) if found else self.title).lower()
        return _TAKE_SUFFIX.sub("", name) or name


def read_cat(path: Path) -> list[CatEntry]:
    """The entries of a (new-format) OpenTTD sample catalogue, as written by catcodec.

    Layout: a table of (offset | 0x80000000, size) little-endian uint32 pairs, then per entry a
    length-prefixed NUL-terminated description, `size` bytes of RIFF/WAVE data, one separator byte
    and a length-prefixed NUL-terminated file name. Raises AuralignError on anything else.
    """
    data = path.read_bytes()
    try:
        return _parse_cat(data)
    except (ValueError, struct.error) as error:
        raise AuralignError(f"{path} is not an OpenTTD sample catalogue: {error}") from None


def _parse_cat(data: bytes) -> list[CatEntry]:
    first = struct.unpack_from("<I", data)[0]
    table_size = first & ~_NEW_FORMAT
    if not first & _NEW_FORMAT:
        raise ValueError("old-format (original TTD) catalogues are not supported")
    if table_size == 0 or table_size % 8 or table_size > len(data):
        raise ValueError(f"bad table size {table_size}")
    entries = []
    for index in range(table_size // 8):
        offset, size = struct.unpack_from("<II", data, 8 * index)
        description, position = _read_string(data, offset & ~_NEW_FORMAT)
        wav = data[position:position + size]
        complete = len(wav) == size >= 12 and struct.unpack_from("<I", wav, 4)[0] + 8 == size
        if not (complete and wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"):
            raise ValueError(f"entry {index} holds no complete RIFF/WAVE data")
        filename, _ = _read_string(data, position + size + 1)
        entries.append(CatEntry(index, description, filename, wav))
    return entries


def _read_string(data: bytes, position: int) -> tuple[str, int]:
    """A length-prefixed string at `position`, and the position after it."""
    end = position + 1 + (data[position] if position < len(data) else 0)
    if end == position + 1 or end > len(data):
        raise ValueError(f"no string at offset {position}")
    return data[position + 1:end].rstrip(b"\0").decode("utf-8", errors="replace"), end


# C4Group ("RedWolf Design GrpFolder"): a packed group is a gzip stream whose first two bytes are
# 1e 8c instead of 1f 8b. Unpacked: a 204-byte header (scrambled: each byte XOR 0xED and bytes i,
# i+2 swapped per triple) whose int32 at 36 is the entry count, then 316-byte entries (NUL-padded
# name[260], int32 packed, child group, size, reserved, offset), then the data, offsets counted
# from the end of the entry table. A child group is stored unpacked in its parent's data.
_C4_MAGIC = b"RedWolf Design GrpFolder"
_C4_HEADER = 204
_C4_ENTRY = 316


def c4group_members(data: bytes, prefix: str = "") -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every file in an unpacked C4Group, child groups as folders without ".ocg"."""
    header = bytearray(byte ^ 0xED for byte in data[:_C4_HEADER])
    for i in range(0, len(header) - 2, 3):
        header[i], header[i + 2] = header[i + 2], header[i]
    if len(header) < _C4_HEADER or not header.startswith(_C4_MAGIC):
        raise AuralignError("not a C4Group (OpenClonk group file)")
    (count,) = struct.unpack_from("<i", header, 36)
    start = _C4_HEADER + _C4_ENTRY * count
    for index in range(count):
        entry = data[_C4_HEADER + _C4_ENTRY * index:_C4_HEADER + _C4_ENTRY * (index + 1)]
        name = entry[:260].split(b"\0")[0].decode("latin-1")
        _, child, size, _, offset = struct.unpack_from("<5i", entry, 260)
        body = data[start + offset:start + offset + size]
        if child:
            yield from c4group_members(body, f"{prefix}{name.removesuffix('.ocg')}/")
        else:
            yield prefix + name, body


def extract_c4group_audio(group: Path, target: Path, table: RuleTable) -> None:
    """Write the audio members of a packed C4Group that `table` labels (once: existing files are kept)."""
    raw = group.read_bytes()
    data = gzip.decompress(b"\x1f\x8b" + raw[2:])
    for name, body in c4group_members(data):
        out = target / name
        if out.suffix.lower() in AUDIO_EXTENSIONS and not out.is_file() and table.label(name) is not None:
            write_extracted(out, body)


_RCC_NODE_SIZE = {1: 14, 2: 22, 3: 22}
_RCC_COMPRESSED, _RCC_DIRECTORY = 1, 2


def rcc_members(bundle: bytes) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every file in a Qt resource bundle (`.rcc`), zlib members inflated.

    The layout is Qt's `rcc` binary format: a header with the offsets of the node tree, the data and
    the names; each node is a name offset and flags, then (directory) child count and first child, or
    (file) locale and data offset. A zstd-compressed member (flag 4) cannot be read and is skipped.
    """
    if bundle[:4] != b"qres":
        raise ValueError("not a Qt resource bundle")
    version, tree, data, names = struct.unpack(">IIII", bundle[4:20])
    node_size = _RCC_NODE_SIZE[version]

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", bundle[names + offset:names + offset + 2])
        return bundle[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    pending = [(0, "")]
    while pending:
        index, prefix = pending.pop()
        base = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", bundle[base:base + 6])
        path = f"{prefix}{name(name_offset)}" if index else ""
        if flags & _RCC_DIRECTORY:
            count, first = struct.unpack(">II", bundle[base + 6:base + 14])
            pending += [(child, f"{path}/" if path else "") for child in range(first, first + count)]
        elif (flags & ~_RCC_COMPRESSED) == 0:
            (offset,) = struct.unpack(">I", bundle[base + 10:base + 14])
            (size,) = struct.unpack(">I", bundle[data + offset:data + offset + 4])
            content = bundle[data + offset + 4:data + offset + 4 + size]
            yield path, zlib.decompress(content[4:]) if flags & _RCC_COMPRESSED else content
