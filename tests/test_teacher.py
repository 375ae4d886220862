"""The aiSFX teacher heads (conversion, module, parity with the package) and the ConSE-style prior.

Unit tests use tiny random heads and a fake text tower; tests marked `backbones` use the real heads
and compare them with the package's own `CrossNet`, read from the sha256-pinned wheel as in
tests/test_aisfx.py.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import test_aisfx as ref
from auralign.backbones import registry
from auralign.backbones.aisfx import AisfxEncoder
from auralign.backbones.aisfx_heads import HEADS_CONFIG, HEADS_WEIGHTS, AisfxHeads, head_mlp
from auralign.errors import AuralignError, CheckpointError
from auralign.evaluation.teacher_prior import (
    NAMES_FILE,
    NamedOutput,
    TeacherPrior,
    combine,
    load_named_outputs,
    load_ucs_subcategories,
    name_embedding,
)

TINY = {"alpha": 5, "beta": 3}
PACKAGE_HEADS = {"prosfx": 78, "soundlyTrain": 79, "ucsMixed": 69, "soundstormBalanced": 81,
                 "productionelementsBalanced": 10, "cartoonexpressBalanced": 27, "hpxdigitalBalanced": 3,
                 "series6000Balanced": 23, "series9000Balanced": 8}


def fake_checkpoint(sizes: dict[str, int], seed: int = 0) -> tuple[dict, dict]:
    """A CrossNet-style state dict (`embedding_net.*`, `fc.<index>.<layer>.*`) and its ds_dict."""
    torch.manual_seed(seed)
    weights = {"embedding_net.conv_block1.conv1.weight": torch.randn(64, 1, 3, 3)}
    datasets = {}
    for index, (name, n) in enumerate(sizes.items()):
        for key, value in head_mlp(512, n).state_dict().items():
            weights[f"fc.{index}.{key}"] = value
        datasets[name] = (index, n)
    return weights, datasets


@pytest.fixture
def tiny_heads_dir(tmp_path: Path) -> Path:
    weights, datasets = fake_checkpoint(TINY)
    state, config = registry.split_aisfx_heads(weights, datasets)
    save_file(state, str(tmp_path / HEADS_WEIGHTS))
    (tmp_path / HEADS_CONFIG).write_text(json.dumps(config))
    return tmp_path


# ---------------------------------------------------------------- conversion


def test_split_heads_renames_by_head_and_keeps_index_order() -> None:
    weights, datasets = fake_checkpoint({"b": 4, "a": 2})
    state, config = registry.split_aisfx_heads(weights, datasets)
    assert config == {"b": {"index": 0, "n_outputs": 4}, "a": {"index": 1, "n_outputs": 2}}
    assert set(state) == {f"{h}.{layer}.{p}" for h in "ab" for layer in (0, 2, 4) for p in ("weight", "bias")}
    assert torch.equal(state["a.4.weight"], weights["fc.1.4.weight"])


def test_split_heads_refuses_a_size_mismatch_and_gapped_indices() -> None:
    weights, _ = fake_checkpoint({"a": 2})
    with pytest.raises(AuralignError, match="does not end in 3 outputs"):
        registry.split_aisfx_heads(weights, {"a": (0, 3)})
    with pytest.raises(AuralignError, match="head indices"):
        registry.split_aisfx_heads(weights, {"a": (1, 2)})


def test_fetch_reconverts_a_folder_without_heads_from_the_cached_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An aisfx folder from before the heads is not current; fetch converts it again (the wheel comes
    from the cache: pinned_wheel is asked, nothing else), and a current folder is left alone."""
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path))
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("x", "y")
    monkeypatch.setattr(registry, "pinned_wheel", lambda name, wheel_dir=None: wheel)
    calls = []

    def convert(_wheel: zipfile.ZipFile, out: Path, _workdir: Path) -> None:
        calls.append(out)
        for file in registry.BACKBONES["aisfx"].converted_files:
            (out / file).write_text("{}")

    monkeypatch.setitem(registry.CONVERTERS, "audio", convert)
    old = tmp_path / "backbones" / "aisfx"
    old.mkdir(parents=True)
    for file in (registry.DONE_MARKER, "config.json", "model.safetensors"):
        (old / file).write_text("{}")
    assert registry.is_fetched("aisfx") and not registry.is_current("aisfx")
    registry.fetch("aisfx")
    assert len(calls) == 1 and registry.is_current("aisfx")
    registry.fetch("aisfx")
    assert len(calls) == 1


# ---------------------------------------------------------------- the heads module, tiny random weights


def test_heads_give_a_softmax_per_head(tiny_heads_dir: Path) -> None:
    heads = AisfxHeads.from_pretrained(tiny_heads_dir)
    assert heads.names == ["alpha", "beta"]
    pooled = torch.randn(4, 512)
    probs = heads(pooled)
    logits = heads.logits(pooled)
    for name, n in TINY.items():
        assert probs[name].shape == (4, n)
        torch.testing.assert_close(probs[name].sum(-1), torch.ones(4))
        torch.testing.assert_close(probs[name], logits[name].softmax(-1))
    assert list(heads(pooled, ["beta"])) == ["beta"]
    assert not any(p.requires_grad for p in heads.parameters())


def test_from_tokens_pools_the_max_over_valid_tokens(tiny_heads_dir: Path) -> None:
    heads = AisfxHeads.from_pretrained(tiny_heads_dir)
    tokens = torch.randn(2, 6, 512)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    tokens[1, 3:] = 100.0  # padding must not leak into the max
    out = heads.from_tokens(tokens, mask)
    expected = heads(torch.stack([tokens[0].amax(0), tokens[1, :3].amax(0)]))
    for name in TINY:
        torch.testing.assert_close(out[name], expected[name])
    torch.testing.assert_close(heads.from_tokens(tokens[:1])["alpha"], expected["alpha"][:1])


def test_missing_or_mismatched_heads_files_name_the_fix(tiny_heads_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="auralign models fetch"):
        AisfxHeads.from_pretrained(tmp_path / "nowhere")
    config = json.loads((tiny_heads_dir / HEADS_CONFIG).read_text())
    config["alpha"]["n_outputs"] = 7
    (tiny_heads_dir / HEADS_CONFIG).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not fit"):
        AisfxHeads.from_pretrained(tiny_heads_dir)


# ---------------------------------------------------------------- the prior


class FakeTower:
    """Texts -> fixed random unit vectors (one per distinct text), counting calls."""

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.vectors: dict[str, torch.Tensor] = {}

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        for text in texts:
            if text not in self.vectors:
                generator = torch.Generator().manual_seed(len(self.vectors))
                self.vectors[text] = F.normalize(torch.randn(self.dim, generator=generator), dim=0)
        return torch.stack([self.vectors[t] for t in texts])


def test_name_embedding_weighs_category_and_subcategories_half_each() -> None:
    tower = FakeTower()
    alone = name_embedding(tower, "RAIN")
    torch.testing.assert_close(alone, tower.vectors["This is a sound of rain."])
    both = name_embedding(tower, "RAIN", ["CONCRETE", "METAL"])
    subs = F.normalize(tower.embed_text(["This is a sound of rain: concrete.",
                                         "This is a sound of rain: metal."]).mean(0), dim=0)
    torch.testing.assert_close(both, F.normalize(0.5 * alone + 0.5 * subs, dim=0))


def test_prior_is_the_normalised_probability_weighted_sum_of_named_outputs() -> None:
    tower = FakeTower()
    named = [NamedOutput("h", 0, "DOGS"), NamedOutput("h", 2, "RAIN"), NamedOutput("g", 1, "DOGS")]
    prior = TeacherPrior.build(tower, named, subcategories={})
    assert len(tower.vectors) == 2  # each distinct name embedded once
    probs = {"h": torch.tensor([[0.5, 0.3, 0.2]]), "g": torch.tensor([[0.9, 0.1]])}
    dogs, rain = tower.vectors["This is a sound of dogs."], tower.vectors["This is a sound of rain."]
    expected = F.normalize(0.5 * dogs + 0.2 * rain + 0.1 * dogs, dim=0)
    torch.testing.assert_close(prior.embed(probs)[0], expected)
    torch.testing.assert_close(prior.embed(probs, top_k=1)[0], dogs)
    classes = torch.stack([dogs, rain, -dogs])
    scores = prior.scores(probs, 3.0 * classes)
    assert scores.shape == (1, 3)
    torch.testing.assert_close(scores[0], classes @ expected)
    with pytest.raises(AuralignError, match="no probabilities"):
        prior.embed({"h": probs["h"]})


def test_combine_interpolates_and_checks_its_inputs() -> None:
    clap, prior = torch.tensor([[0.2, 0.8]]), torch.tensor([[0.6, 0.0]])
    torch.testing.assert_close(combine(clap, prior, 0.0), clap)
    torch.testing.assert_close(combine(clap, prior, 1.0), prior)
    torch.testing.assert_close(combine(clap, prior, 0.25), torch.tensor([[0.3, 0.6]]))
    with pytest.raises(AuralignError, match="weight"):
        combine(clap, prior, 1.5)
    with pytest.raises(AuralignError, match="shape"):
        combine(clap, prior[:, :1], 0.5)


def test_named_outputs_are_filtered_by_confidence(tmp_path: Path) -> None:
    table = {"h": [{"output": 0, "name": "RAIN", "confidence": "high", "evidence": ""},
                   {"output": 1, "name": "WIND", "confidence": "low", "evidence": ""},
                   {"output": 2, "name": None, "confidence": "low", "evidence": ""}]}
    path = tmp_path / "names.json"
    path.write_text(json.dumps(table))
    assert load_named_outputs(["h"], "medium", path) == [NamedOutput("h", 0, "RAIN")]
    assert [o.name for o in load_named_outputs(["h"], "low", path)] == ["RAIN", "WIND"]
    with pytest.raises(AuralignError, match="no names"):
        load_named_outputs(["other"], "low", path)
    with pytest.raises(AuralignError, match="no named teacher outputs"):
        TeacherPrior([], torch.zeros(0))


def test_shipped_names_cover_every_output_of_every_head() -> None:
    table = json.loads(NAMES_FILE.read_text())
    assert {head: len(entries) for head, entries in table.items()} == PACKAGE_HEADS
    for entries in table.values():
        assert [e["output"] for e in entries] == list(range(len(entries)))
        assert all(e["confidence"] in ("high", "medium", "low") and e["evidence"] for e in entries)
        assert all(e["name"] is not None or e["confidence"] == "low" for e in entries)


def test_ucs_subcategories_skip_misc(tmp_path: Path) -> None:
    path = tmp_path / "ucs.csv"
    path.write_text("cat_id,category,subcategory\nRAINMisc,RAIN,MISC\nRAINConc,RAIN,CONCRETE\n")
    assert load_ucs_subcategories(path) == {"RAIN": ["CONCRETE"]}
    assert load_ucs_subcategories(tmp_path / "absent.csv") == {}


# ---------------------------------------------------------------- real heads against the package


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aisfx_wheel")
    with zipfile.ZipFile(registry.pinned_wheel("aisfx")) as wheel:
        members = [n for n in wheel.namelist() if n.startswith("aisfx/") and n.endswith((".py", ".pth"))]
        wheel.extractall(out, members)
    return out / "aisfx"


@pytest.fixture(scope="module")
def reference_crossnet(package_dir: Path) -> torch.nn.Module:
    """The package's CrossNet as its `load_bestModel` builds it (test-only read of the pinned pickle)."""
    cnn2d = ref._import_file("aisfx_reference_cnn2d", package_dir / "models" / "cnn2d.py")
    weights, datasets = torch.load(package_dir / "models" / "checkpoint.pth", map_location="cpu",
                                   weights_only=False)
    net = cnn2d.CrossNet(cnn2d.EmbeddingNet("max", 3, 1, 64), datasets, "cpu")
    net.load_state_dict(weights)
    return net.eval()


@pytest.fixture(scope="module")
def real_heads() -> AisfxHeads:
    return AisfxHeads.from_pretrained()


def reference_probabilities(net: torch.nn.Module, spec: torch.Tensor) -> dict[str, np.ndarray]:
    """The package's head inference: `CrossNet.forward(x, name)` logits, softmax (it was trained with CE)."""
    with torch.inference_mode():
        return {name: net(spec, name)[1].softmax(-1).numpy() for name in PACKAGE_HEADS}


@pytest.mark.backbones
def test_real_heads_are_the_nine_of_the_checkpoint(real_heads: AisfxHeads) -> None:
    assert {name: head[4].out_features for name, head in real_heads.heads.items()} == PACKAGE_HEADS
    assert real_heads.names == list(PACKAGE_HEADS)


@pytest.mark.backbones
def test_heads_match_package_crossnet_on_spectrograms(real_heads: AisfxHeads,
                                                      reference_crossnet: torch.nn.Module) -> None:
    encoder = AisfxEncoder.from_pretrained()
    specs = torch.rand(4, 100, 96)
    reference = reference_probabilities(reference_crossnet, specs)
    with torch.inference_mode():
        ours = real_heads.from_tokens(encoder.net(specs))
    worst = max(float(np.abs(ours[name].numpy() - reference[name]).max()) for name in PACKAGE_HEADS)
    print(f"heads parity on spectrograms: max abs probability diff {worst:.1e}")
    assert worst < 1e-5


@pytest.mark.backbones
def test_heads_on_our_pipeline_match_the_package_pipeline(
    tmp_path: Path, real_heads: AisfxHeads, reference_crossnet: torch.nn.Module, package_dir: Path
) -> None:
    """Our front end + encoder + heads vs the package's Essentia spectrogram + CrossNet, on generated
    sounds and FSDD recordings, per 100-frame block as in test_aisfx (a clip of at most one block is
    our encoder's pooled output, a longer one is blocked identically on both sides)."""
    pytest.importorskip("essentia")
    import essentia

    essentia.log.infoActive = False
    essentia.log.warningActive = False
    spectrogram_file = package_dir / "spectrogram" / "spectrogram_essentia.py"
    pipeline = (ref._import_file("aisfx_reference_spectrogram", spectrogram_file),
                ref._import_file("aisfx_reference_preprocessing", package_dir / "preprocessing.py"))
    blocking = pipeline[1].blocking
    encoder = AisfxEncoder.from_pretrained()
    clips = ref.generated_sounds() | (ref.fsdd_clips() if ref.FSDD_DIR.is_dir() else {})
    diffs, agree, total = [], 0, 0
    for name, audio in clips.items():
        wav = tmp_path / f"{name}.wav"
        sf.write(wav, audio.astype(np.float32), ref.SR, subtype="FLOAT")
        spec = ref.package_spectrogram(pipeline, wav)
        blocks = torch.from_numpy(blocking(spec, ref.BLOCK_FRAMES, ref.BLOCK_HOP, True)).float()
        reference = reference_probabilities(reference_crossnet, blocks)
        waveform = torch.from_numpy(audio.astype(np.float32))[None]
        with torch.inference_mode():
            if waveform.shape[1] <= ref.MAX_ONE_BLOCK_SAMPLES:
                ours = real_heads(encoder(waveform).pooled)
            else:
                ours_spec, _ = encoder.frontend(waveform)
                ours_blocks = blocking(ours_spec[0].numpy(), ref.BLOCK_FRAMES, ref.BLOCK_HOP, True)
                ours = real_heads.from_tokens(encoder.net(torch.from_numpy(ours_blocks).float()))
        for head in PACKAGE_HEADS:
            diffs.append(float(np.abs(ours[head].numpy() - reference[head]).max()))
            agree += int((ours[head].numpy().argmax(-1) == reference[head].argmax(-1)).sum())
            total += len(reference[head])
    print(f"heads parity, package pipeline ({len(clips)} clips x 9 heads): max abs probability diff "
          f"{max(diffs):.1e} (median {np.median(diffs):.1e}), argmax agreement {agree}/{total}")
    assert max(diffs) < 1e-2  # measured 3.8e-3, on the noise bursts
    assert agree == total


@pytest.mark.backbones
def test_prior_from_real_heads_through_the_shipped_clap_text_tower(real_heads: AisfxHeads) -> None:
    from auralign.models.factory import load_model

    model = load_model("clap")
    named = load_named_outputs(min_confidence="low")
    prior = TeacherPrior.build(model, named)
    classes = model.embed_text(["This is a sound of rain.", "This is a sound of a dog barking."])
    with torch.inference_mode():
        probs = real_heads(torch.randn(3, 512).abs())
        scores = prior.scores(probs, classes)
    assert scores.shape == (3, 2) and torch.isfinite(scores).all()
    assert prior.name_vectors.shape == (len(named), classes.shape[1])
