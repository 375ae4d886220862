"""Benchmark loaders on tiny copies of each dataset's official layout, and the harness end to end.

Metadata fixtures live in tests/fixtures/benchmarks/<dataset>/ as the datasets ship them; the audio
files they list are written here, at test time, as short tones (`make_dataset`). The harness runs a
tiny CLAP (random aiSFX + random BERT) or a rule-based generator, so the tests check splits,
protocols and reporting, not model quality.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import soundfile as sf
import torch
import typer
from torch import nn
from typer.testing import CliRunner

from auralign.backbones.aisfx import AisfxEncoder
from auralign.backbones.base import Decoding
from auralign.cli.bench_cmd import bench_eval
from auralign.data.feature_cache import FeatureCache
from auralign.errors import AuralignError
from auralign.evaluation.benchmarks import BENCHMARKS, get_benchmark, run_benchmark, supported_tasks
from auralign.models.clap import ClapConfig, ClapModel
from backbone_factory import make_tiny_aisfx, make_tiny_bert
from data_factory import tone

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
SAMPLE_RATE = 16000
GTZAN_GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
REAL_HOME = os.environ.get("AURALIGN_HOME")
TUT_DEV = "TUT-acoustic-scenes-2017-development/audio"
TUT_EVAL = "TUT-acoustic-scenes-2017-evaluation/audio"

AUDIO_FILES = {
    "esc50": [f"audio/{name}" for name in ["1-100032-A-0.wav", "1-100038-A-14.wav", "2-100648-A-43.wav",
                                           "4-181286-A-10.wav", "5-9032-A-0.wav", "5-9032-B-0.wav"]],
    "urbansound8k": ["audio/fold5/100032-3-0-0.wav", "audio/fold5/100263-2-0-117.wav",
                     "audio/fold1/101415-3-0-2.wav", "audio/fold1/102305-6-0-0.wav"],
    "fsd50k": ["FSD50K.dev_audio/64760.wav", "FSD50K.dev_audio/16399.wav", "FSD50K.dev_audio/16401.wav",
               "FSD50K.eval_audio/37199.wav", "FSD50K.eval_audio/175151.wav", "FSD50K.eval_audio/253463.wav",
               "FSD50K.eval_audio/378.wav"],
    "clotho": ["development/Distorted AM Radio noise.wav", "development/rain_on_roof.wav",
               "clotho_audio_validation/birds_morning.wav", "evaluation/dog barking.wav",
               "evaluation/car_passing.wav", "evaluation/waves.wav"],
    "clotho-aqa": ["audio_files/dog barking.wav", "audio_files/waves.wav"],
    "audiocaps": ["audio/train/r1nicOVtvkQ.wav", "audio/val/vfY_TJq7n_U_130.flac", "audio/test/7fmOlUlwoNg.wav",
                  "audio/test/Y6BJ455B1aAs.wav"],  # GOD8Bt5LfDE is "no longer on YouTube"
    "vggsound": ["audio/---g-f_I2yQ_000001.wav", "audio/--0PQM4-hqg_000030.flac", "audio/--56QUhyDQM_185.wav"],
    "musiccaps": ["wav/-0Gj8-vB1q4.wav", "wav/-0SdAVK79lg_30-40.wav"],
    "nsynth": [f"nsynth-test/audio/{note}.wav" for note in [
        "bass_synthetic_068-049-025", "keyboard_electronic_001-021-127", "guitar_acoustic_010-066-100",
        "synth_lead_synthetic_000-080-075"]] + ["nsynth-valid/audio/bass_synthetic_033-050-100.wav"],
    "tut2017": [f"{TUT_DEV}/{name}.wav" for name in ["a001_10_20", "a001_20_30", "b020_90_100", "c045_0_10",
                                                      "d012_30_40"]] + [f"{TUT_EVAL}/{k}.wav" for k in (1, 2, 3)],
    "gtzan": [f"genres/{genre}/{genre}.0000{k}.au" for genre in GTZAN_GENRES for k in (0, 1)],
}


def make_dataset(name: str, tmp_path: Path, skip: tuple[str, ...] = (), fixture: str | None = None) -> Path:
    """Copy the metadata fixture and write every listed audio file (except `skip`) as a distinct tone."""
    root = tmp_path / name
    source = FIXTURES / (fixture or name)
    if source.is_dir():
        shutil.copytree(source, root)
    root.mkdir(parents=True, exist_ok=True)
    for i, relative in enumerate(AUDIO_FILES[name]):
        if relative in skip:
            continue
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(1.0, SAMPLE_RATE, frequency=200.0 + 170.0 * i), SAMPLE_RATE)
    return root


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", "/nonexistent")  # no Java: METEOR is reported unavailable instead of taking 25 s


# ---------------------------------------------------------------------------------------------- loaders


def load(name: str, root: Path, split: str | None = "default"):
    benchmark = get_benchmark(name)
    return benchmark.load(root, benchmark.eval_split if split == "default" else split)


def test_every_registered_benchmark_has_a_fixture() -> None:
    assert set(AUDIO_FILES) | {"nsynth-source"} == set(BENCHMARKS)


def test_esc50_all_folds_with_groups_and_official_class_order(tmp_path: Path) -> None:
    loaded = load("esc50", make_dataset("esc50", tmp_path))
    assert len(loaded.rows) == 6 and {row.split for row in loaded.rows} == {"fold1", "fold2", "fold4", "fold5"}
    assert loaded.class_names == ["dog", "rain", "chirping birds", "car horn"]  # by target index
    takes = [row for row in loaded.rows if row.id.startswith("5-9032")]
    assert {row.group for row in takes} == {"9032"} and takes[0].labels == ["dog"]
    assert [row.id for row in load("esc50", make_dataset("esc50", tmp_path / "b"), "fold1").rows] == [
        "1-100032-A-0.wav", "1-100038-A-14.wav"]


def test_urbansound8k_reads_audio_from_the_fold_folders(tmp_path: Path) -> None:
    loaded = load("urbansound8k", make_dataset("urbansound8k", tmp_path))
    assert [row.split for row in loaded.rows] == ["fold5", "fold5", "fold1", "fold1"]
    assert loaded.rows[0].audio.parent.name == "fold5" and loaded.rows[0].labels == ["dog bark"]
    assert loaded.class_names == ["children playing", "dog bark", "gun shot"]
    assert loaded.rows[2].group == "101415"


def test_fsd50k_eval_is_multi_label_over_the_vocabulary(tmp_path: Path) -> None:
    loaded = load("fsd50k", make_dataset("fsd50k", tmp_path))
    assert loaded.multi_label and len(loaded.class_names) == 6
    assert [row.id for row in loaded.rows] == ["37199", "175151", "253463", "378"]
    assert loaded.rows[0].labels == ["Bark", "Dog", "Domestic animals and pets"]
    assert loaded.rows[1].labels == ["Accelerating and revving and vroom"]
    dev = load("fsd50k", make_dataset("fsd50k", tmp_path / "b"), "val")
    assert [(row.id, row.split) for row in dev.rows] == [("16401", "val")]


def test_fsd50k_eval_needs_no_dev_audio(tmp_path: Path) -> None:
    root = make_dataset("fsd50k", tmp_path, skip=tuple(p for p in AUDIO_FILES["fsd50k"] if "dev_audio" in p))
    assert len(load("fsd50k", root).rows) == 4


def test_fsd50k_label_outside_the_vocabulary_is_reported(tmp_path: Path) -> None:
    root = make_dataset("fsd50k", tmp_path)
    eval_csv = root / "FSD50K.ground_truth" / "eval.csv"
    eval_csv.write_text(eval_csv.read_text().replace("Accordion", "Kazoo"))
    with pytest.raises(AuralignError, match="Kazoo"):
        load("fsd50k", root)


def test_clotho_evaluation_has_five_captions_per_clip_and_both_audio_folder_names(tmp_path: Path) -> None:
    root = make_dataset("clotho", tmp_path)
    loaded = load("clotho", root)
    assert [row.id for row in loaded.rows] == ["dog barking.wav", "car_passing.wav", "waves.wav"]
    assert all(len(row.captions) == 5 for row in loaded.rows)
    assert loaded.rows[1].captions[1] == "A car drives past, engine humming."
    validation = load("clotho", root, "validation")
    assert validation.rows[0].audio == root / "clotho_audio_validation" / "birds_morning.wav"
    assert len(load("clotho", root, None).rows) == 6


def test_clotho_aqa_keeps_one_row_per_annotator_answer(tmp_path: Path) -> None:
    loaded = load("clotho-aqa", make_dataset("clotho-aqa", tmp_path))
    assert len(loaded.rows) == 9 and {row.split for row in loaded.rows} == {"test"}
    first = loaded.rows[0]
    assert first.extra == {"question": "Is a dog barking?", "answer": "yes", "confidence": "yes"}
    assert first.group == "dog barking.wav" and len({row.id for row in loaded.rows}) == 9


def test_audiocaps_groups_captions_by_clip_and_counts_clips_without_audio(tmp_path: Path) -> None:
    root = make_dataset("audiocaps", tmp_path)
    loaded = load("audiocaps", root)
    assert [row.id for row in loaded.rows] == ["7fmOlUlwoNg", "6BJ455B1aAs"]
    assert [len(row.captions) for row in loaded.rows] == [5, 5]
    assert loaded.rows[1].audio.name == "Y6BJ455B1aAs.wav"  # AudioSet-style name
    assert loaded.missing_audio == ["GOD8Bt5LfDE"]
    val = load("audiocaps", root, "val")
    assert val.rows[0].audio.name == "vfY_TJq7n_U_130.flac" and val.rows[0].captions[0].startswith("Rustling")


def test_vggsound_test_split_with_official_clip_names(tmp_path: Path) -> None:
    loaded = load("vggsound", make_dataset("vggsound", tmp_path))
    assert [row.id for row in loaded.rows] == ["---g-f_I2yQ_000001", "--56QUhyDQM_000185"]
    assert loaded.rows[1].audio.name == "--56QUhyDQM_185.wav" and loaded.rows[0].labels == ["people marching"]
    assert loaded.missing_audio == ["-0BIyqJj9ZU_000030"]
    assert "waterfall burbling" in loaded.class_names and len(loaded.class_names) == 4


def test_musiccaps_eval_is_the_audioset_eval_subset(tmp_path: Path) -> None:
    root = make_dataset("musiccaps", tmp_path)
    loaded = load("musiccaps", root)
    assert [row.id for row in loaded.rows] == ["-0Gj8-vB1q4"] and loaded.missing_audio == ["-0vPFx-wRRI"]
    assert loaded.rows[0].captions[0].startswith("The low quality recording")
    train = load("musiccaps", root, "train")
    assert train.rows[0].audio.name == "-0SdAVK79lg_30-40.wav"


def test_nsynth_family_and_source_on_the_test_split(tmp_path: Path) -> None:
    root = make_dataset("nsynth", tmp_path)
    family = load("nsynth", root)
    assert [row.labels[0] for row in family.rows] == ["bass", "keyboard", "guitar", "synth lead"]
    assert len(family.class_names) == 11 and "synth lead" in family.class_names
    assert family.rows[0].group == "bass_synthetic_068"
    source = load("nsynth-source", root)
    assert [row.labels[0] for row in source.rows] == ["synthetic", "electronic", "acoustic", "synthetic"]
    assert source.class_names == ["acoustic", "electronic", "synthetic"]
    with pytest.raises(AuralignError, match=r"nsynth-train/examples\.json"):
        load("nsynth", root, None)  # every split asked for, the train split is absent


def test_tut2017_evaluation_set_and_development_folds(tmp_path: Path) -> None:
    root = make_dataset("tut2017", tmp_path)
    evaluation = load("tut2017", root)
    assert [row.labels[0] for row in evaluation.rows] == ["beach", "tram", "cafe/restaurant"]
    assert len(evaluation.class_names) == 15 and "city center" in evaluation.class_names
    development = load("tut2017", root, "development")
    assert [row.extra["fold"] for row in development.rows] == ["1", "1", "2", "3", "4"]
    assert development.rows[0].group == "a001" and development.rows[0].labels == ["residential area"]


def test_gtzan_all_clips_or_the_fault_filtered_split(tmp_path: Path) -> None:
    loaded = load("gtzan", make_dataset("gtzan", tmp_path))
    assert len(loaded.rows) == 20 and loaded.class_names == GTZAN_GENRES and loaded.rows[0].audio.suffix == ".au"
    root = make_dataset("gtzan", tmp_path / "filtered", fixture="gtzan_fault_filtered")
    test = load("gtzan", root, "test")
    assert [row.id for row in test.rows] == ["blues/blues.00001", "metal/metal.00001", "rock/rock.00001"]
    assert len(load("gtzan", root, None).rows) == 6  # clips in no list are left out
    with pytest.raises(AuralignError, match="fault-filtered"):
        load("gtzan", make_dataset("gtzan", tmp_path / "plain"), "test")


@pytest.mark.parametrize(("name", "metadata"), [
    ("esc50", "meta/esc50.csv"), ("urbansound8k", "metadata/UrbanSound8K.csv"),
    ("fsd50k", "FSD50K.ground_truth/eval.csv"), ("clotho", "clotho_captions_evaluation.csv"),
    ("clotho-aqa", "clotho_aqa_test.csv"), ("audiocaps", "test.csv"), ("vggsound", "vggsound.csv"),
    ("musiccaps", "musiccaps-public.csv"), ("nsynth", "nsynth-test/examples.json"),
    ("tut2017", "TUT-acoustic-scenes-2017-evaluation/meta.txt"),
])
def test_missing_metadata_names_the_expected_file(tmp_path: Path, name: str, metadata: str) -> None:
    root = make_dataset(name, tmp_path)
    (root / metadata).unlink()
    with pytest.raises(AuralignError, match=Path(metadata).name):
        load(name, root)


@pytest.mark.parametrize(("name", "metadata", "column"), [
    ("esc50", "meta/esc50.csv", "category"), ("urbansound8k", "metadata/UrbanSound8K.csv", "classID"),
    ("clotho", "clotho_captions_evaluation.csv", "file_name"), ("audiocaps", "test.csv", "youtube_id"),
    ("clotho-aqa", "clotho_aqa_test.csv", "QuestionText"), ("musiccaps", "musiccaps-public.csv", "caption"),
])
def test_garbled_header_names_the_missing_column(tmp_path: Path, name: str, metadata: str, column: str) -> None:
    root = make_dataset(name, tmp_path)
    path = root / metadata
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0].replace(column, "something_else") + "".join(lines[1:]))
    with pytest.raises(AuralignError, match=f"missing column.*{column}"):
        load(name, root)


@pytest.mark.parametrize("name", ["esc50", "urbansound8k", "fsd50k", "clotho", "clotho-aqa", "nsynth", "tut2017"])
def test_archive_datasets_refuse_missing_audio_naming_a_file(tmp_path: Path, name: str) -> None:
    eval_files = {"fsd50k": "FSD50K.eval_audio/378.wav", "clotho": "evaluation/waves.wav",
                  "nsynth": AUDIO_FILES["nsynth"][0], "tut2017": f"{TUT_EVAL}/2.wav"}
    absent = eval_files.get(name, AUDIO_FILES[name][-1])
    root = make_dataset(name, tmp_path, skip=(absent,))
    with pytest.raises(AuralignError, match=f"1 audio file.*{Path(absent).name}"):
        load(name, root)


def test_unknown_split_and_unknown_benchmark_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(AuralignError, match="fold1, fold2"):
        load("esc50", make_dataset("esc50", tmp_path), "test")
    with pytest.raises(AuralignError, match="esc50"):
        get_benchmark("esc-5O")
    assert get_benchmark("US8K").name == "urbansound8k"


# ---------------------------------------------------------------------------------------------- harness


@pytest.fixture(scope="module")
def clap_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-clap")
    torch.manual_seed(0)
    config = ClapConfig(audio_encoder=str(make_tiny_aisfx(root / "aisfx")), text_encoder=str(make_tiny_bert(root / "bert")),
                        embed_dim=16, audio_layers=0, projection_hidden=0, dropout=0.0)
    return ClapModel(config).save_pretrained(root / "clap")


@pytest.fixture(scope="module")
def clap(clap_folder: Path) -> ClapModel:
    return ClapModel.from_pretrained(clap_folder)


def test_esc50_zero_shot_report(tmp_path: Path, clap: ClapModel) -> None:
    report = run_benchmark("esc50", make_dataset("esc50", tmp_path), clap, model_name="tiny",
                           cache=FeatureCache(clap.audio_encoder, root=tmp_path / "cache"), progress=False)
    assert report.split is None and report.n_clips == 6
    result = report.results["zeroshot"]
    assert result["n"] == 6 and result["n_classes"] == 4
    [row] = report.table
    assert (row.benchmark, row.split, row.task, row.metric, row.n) == ("ESC-50", "all", "zeroshot", "top-1 accuracy", 6)
    assert row.value == result["top1"]
    markdown = report.to_markdown()
    assert f"| ESC-50 | all | zeroshot | top-1 accuracy (%) | {100 * row.value:.2f} | 6 |" in markdown
    assert "all 2000 clips" in markdown


def test_fsd50k_zero_shot_is_scored_as_multi_label_map(tmp_path: Path, clap: ClapModel) -> None:
    report = run_benchmark("fsd50k", make_dataset("fsd50k", tmp_path), clap, progress=False,
                           cache=FeatureCache(clap.audio_encoder, root=tmp_path / "cache"))
    result = report.results["zeroshot"]
    assert report.split == "eval" and result["multi_label"] and result["n"] == 4
    assert [row.metric for row in report.table] == ["mAP"] and 0 < report.table[0].value <= 1
    assert result["classes_without_positives"] == [] and len(result["per_class_ap"]) == 6


def test_clotho_retrieval_report_and_json(tmp_path: Path, clap: ClapModel) -> None:
    report = run_benchmark("clotho", make_dataset("clotho", tmp_path), clap, progress=False,
                           cache=FeatureCache(clap.audio_encoder, root=tmp_path / "cache"))
    assert list(report.results) == ["retrieval"]  # an embedder cannot caption
    assert report.results["retrieval"]["n_captions"] == 15
    assert [row.metric for row in report.table] == ["t2a R@1", "t2a R@5", "t2a R@10", "a2t R@1", "a2t R@5",
                                                    "a2t R@10"]
    assert report.table[2].value == 1.0  # 3 clips: every caption finds its clip in the top 10
    data = json.loads(json.dumps(report.to_json()))
    assert data["benchmark"] == "clotho" and data["split"] == "evaluation" and data["missing_audio"] == 0


def test_audiocaps_report_counts_missing_clips(tmp_path: Path, clap: ClapModel) -> None:
    report = run_benchmark("audiocaps", make_dataset("audiocaps", tmp_path), clap, progress=False,
                           cache=FeatureCache(clap.audio_encoder, root=tmp_path / "cache"))
    assert report.n_clips == 2 and report.to_json()["missing_audio_examples"] == ["GOD8Bt5LfDE"]
    assert "1 listed clip(s) had no audio" in report.to_markdown()


class RuleGenerator(nn.Module):
    """Answers yes to every yes/no question and 'dog' otherwise; captions every clip the same way."""

    def __init__(self, audio_encoder: AisfxEncoder) -> None:
        super().__init__()
        self.audio_encoder = audio_encoder

    def generate(self, tokens: torch.Tensor, mask: torch.Tensor, instruction: str | None = None,
                 decoding: Decoding | None = None) -> list[str]:
        if instruction is None:
            return ["a dog barks"] * len(tokens)
        return ["yes" if instruction.startswith("Is") else "dog"] * len(tokens)


def test_clotho_aqa_with_a_generator(tmp_path: Path, clap: ClapModel) -> None:
    model = RuleGenerator(clap.audio_encoder)
    assert supported_tasks(model) == {"caption", "qa"}
    report = run_benchmark("clotho-aqa", make_dataset("clotho-aqa", tmp_path), model, progress=False,
                           cache=FeatureCache(model.audio_encoder, root=tmp_path / "cache"))
    values = {row.metric: row.value for row in report.table}
    # yes on "dog barking?" x3, "dog"/"dog"/"a dog" x3, yes on "raining?" right once of 3
    assert values["accuracy"] == pytest.approx(7 / 9)
    assert values["binary accuracy"] == pytest.approx(4 / 6)


def test_clotho_captioning_with_a_generator_reports_unavailable_metrics(tmp_path: Path, clap: ClapModel) -> None:
    model = RuleGenerator(clap.audio_encoder)
    report = run_benchmark("clotho", make_dataset("clotho", tmp_path), model, progress=False,
                           cache=FeatureCache(model.audio_encoder, root=tmp_path / "cache"))
    assert list(report.results) == ["caption"]
    values = {row.metric: row.value for row in report.table}
    assert values["CIDEr"] is not None and values["METEOR"] is None
    markdown = report.to_markdown()
    assert "| METEOR | n/a |" in markdown and "caption METEOR: n/a (Java" in markdown


def test_a_model_without_the_protocol_is_refused(tmp_path: Path, clap: ClapModel) -> None:
    with pytest.raises(AuralignError, match="qa"):
        run_benchmark("clotho-aqa", make_dataset("clotho-aqa", tmp_path), clap, progress=False)


def bench_cli() -> typer.Typer:
    app = typer.Typer()
    app.command("bench-eval")(bench_eval)
    app.command("unused")(lambda: None)  # two commands, so the first argument names one
    return app


def test_bench_eval_cli_prints_markdown_and_writes_both_formats(tmp_path: Path, clap_folder: Path) -> None:
    root = make_dataset("urbansound8k", tmp_path)
    result = CliRunner().invoke(bench_cli(), ["bench-eval", "us8k", "--root", str(root), "--model", str(clap_folder),
                                              "--out", str(tmp_path / "results"), "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "| UrbanSound8K | all | zeroshot | top-1 accuracy (%) |" in result.stdout
    written = json.loads((tmp_path / "results" / "urbansound8k_clap.json").read_text())
    assert written["n_clips"] == 4 and written["table"][0]["task"] == "zeroshot"
    assert (tmp_path / "results" / "urbansound8k_clap.md").read_text().startswith("| Benchmark |")


def test_bench_eval_cli_json_and_fold_split(tmp_path: Path, clap_folder: Path) -> None:
    root = make_dataset("urbansound8k", tmp_path)
    result = CliRunner().invoke(bench_cli(), ["bench-eval", "urbansound8k", "--root", str(root), "--model",
                                              str(clap_folder), "--split", "fold1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["split"] == "fold1" and data["n_clips"] == 2


def test_bench_eval_cli_layout_error_is_one_line(tmp_path: Path, clap_folder: Path) -> None:
    result = CliRunner().invoke(bench_cli(), ["bench-eval", "esc50", "--root", str(tmp_path), "--model",
                                              str(clap_folder)])
    assert result.exit_code == 1 and "meta/esc50.csv" in result.output and "Traceback" not in result.output


@pytest.mark.backbones
def test_shipped_clap_on_the_esc50_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auralign.models.factory import load_model

    if REAL_HOME is None:
        monkeypatch.delenv("AURALIGN_HOME")
    else:
        monkeypatch.setenv("AURALIGN_HOME", REAL_HOME)  # where the backbones were fetched
    model = load_model("clap-fsdd")
    report = run_benchmark("esc50", make_dataset("esc50", tmp_path), model, model_name="clap-fsdd", progress=False,
                           cache=FeatureCache(model.audio_encoder, root=tmp_path / "cache"))
    assert report.results["zeroshot"]["n"] == 6 and report.results["zeroshot"]["failures"] == []
    assert 0.0 <= report.table[0].value <= 1.0


def test_linear_probe_on_the_official_folds(tmp_path: Path, clap: ClapModel) -> None:
    """An ESC-50 layout with 2 classes x 3 folds x 4 clips: low tones are 'dog', high tones 'rain'."""
    root = tmp_path / "esc50"
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for i in range(24):
        fold, high = i % 3 + 1, i % 2 == 1
        name = f"{fold}-{1000 + i}-A-{10 if high else 0}.wav"
        lines.append(f"{name},{fold},{10 if high else 0},{'rain' if high else 'dog'},True,{1000 + i},A")
        (root / "audio").mkdir(parents=True, exist_ok=True)
        sf.write(root / "audio" / name, tone(1.0, SAMPLE_RATE, frequency=(3000 if high else 150) + 40 * i),
                 SAMPLE_RATE)
    (root / "meta").mkdir()
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    report = run_benchmark("esc50", root, clap, progress=False, linear_probe=True,
                           cache=FeatureCache(clap.audio_encoder, root=tmp_path / "cache"))
    probe = report.results["linear_probe"]
    assert probe["protocol"] == "one test fold per split (3 folds)" and len(probe["fold_accuracies"]) == 3
    assert probe["grouped"] and probe["accuracy"] >= 0.9
    assert [(row.task, row.metric) for row in report.table] == [("zeroshot", "top-1 accuracy"),
                                                                 ("linear_probe", "accuracy")]


def test_linear_probe_is_refused_on_multi_label_benchmarks(tmp_path: Path, clap: ClapModel) -> None:
    with pytest.raises(AuralignError, match="multi-label"):
        run_benchmark("fsd50k", make_dataset("fsd50k", tmp_path), clap, progress=False, linear_probe=True)
