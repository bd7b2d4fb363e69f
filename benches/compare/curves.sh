#!/usr/bin/env bash
# Learning curves of ouro and the official PyTorch TRM side by side: one generated 9x9 Sudoku
# dataset (ouro's builder; the official loader reads it), the config of configs/sudoku9-curves.yaml on
# both sides (the official gets the keys ouro resolved), SEEDS seeds each, and a table of exact
# accuracy and lm_loss per evaluation (docs/training.md, "Learning curves beside the official").
#
#   bash benches/compare/curves.sh /path/to/TinyRecursiveModels
#
# PY is a python with torch, numpy, einops, pydantic, argdantic, pyyaml, hydra-core, omegaconf,
# coolname and tqdm; OURO_BIN the ouro binary (default: a release build); OUT the output
# directory; SEEDS the seeds.
set -euo pipefail
official=$(realpath "${1:?give the path of a TinyRecursiveModels checkout}")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=${PY:-python3}
OUT=$(realpath -m "${OUT:-runs/curves}")
SEEDS=${SEEDS:-"0 1 2"}
if [ -z "${OURO_BIN:-}" ]; then
    (cd "$root" && cargo build --release -q)
    OURO_BIN="$root/target/release/ouro"
fi
config="$root/configs/sudoku9-curves.yaml"
mkdir -p "$OUT"
if [ ! -d "$OUT/data" ]; then
    "$OURO_BIN" dataset build sudoku --size 9 --generate 1000 --test-generate 200 --num-aug 100 --candidates 1 \
        --seed 0 --out "$OUT/data"
fi
for seed in $SEEDS; do
    "$OURO_BIN" train --config "$config" "data_paths=[$OUT/data]" "seed=$seed" --run-dir "$OUT/ouro-$seed" --force
    "$PY" "$here/curves.py" official-config "$OUT/ouro-$seed/config.yaml" > "$OUT/official-$seed.json"
    mkdir -p "$OUT/official-$seed"
    # The official writes its checkpoints under its working directory.
    (cd "$OUT/official-$seed" && "$PY" "$here/official_curves.py" "$official" "$OUT/official-$seed.json" \
        "$OUT/official-$seed.jsonl")
done
# shellcheck disable=SC2086
"$PY" "$here/curves.py" table "$OUT" $SEEDS | tee "$OUT/table.md"
