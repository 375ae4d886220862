#!/usr/bin/env bash
# Retrain the shipped `general` model from an empty cache: build the corpus (every source), train
# with configs/general.yaml (checkpoints chosen on lso_dev), export the best checkpoint as fp16.
#   bash scripts/train-general.sh [OUT_DIR]          # default runs/general
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/general}"
AURALIGN=.venv/bin/auralign
[ -f runs/corpus-general/manifest.jsonl ] || \
    "$AURALIGN" data build-corpus --out runs/corpus-general --sources all --llm-budget 0
time "$AURALIGN" train clap --config configs/general.yaml "train.output_dir=$OUT"
BEST=$(.venv/bin/python - "$OUT" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(f"{sys.argv[1]}/log.jsonl") if '"val_top1"' in line]
print(max(rows, key=lambda row: (row["val_top1"], -row["step"]))["step"])
PY
)
echo "best lso_dev checkpoint: step $BEST"
"$AURALIGN" models export "$OUT/checkpoints/ckpt-$(printf %06d "$BEST")" "$OUT/best" --model-type clap
