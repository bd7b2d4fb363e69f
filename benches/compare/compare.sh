#!/usr/bin/env bash
# ouro's TRM train step against a plain-JAX reference of the same step (trm_jax.py) and, with
# OFFICIAL set, the official PyTorch TRM (trm_torch.py), on CPU (or, PLATFORM=gpu, on a GPU):
#   1. ouro:        `ouro bench --config <yaml>`  (ouro's graph on ouro's runtime, pinned PJRT CPU plugin)
#   2. JAX:         `trm_jax.py bench`            (JAX's graph on jaxlib's own XLA)
#   3. JAX graph on ouro's runtime: `ouro bench --stablehlo` of `trm_jax.py export`
#   4. JAX with jemalloc: (2) with the allocator ouro links (LD_PRELOAD, oversize_threshold:0),
#      when a libjemalloc.so is found (apt install libjemalloc2), so the table shows what of the
#      difference is the host allocator (see crates/pjrt/src/host_allocator.rs)
#   5. PyTorch:     `trm_torch.py bench`          (the official model, loss head, optimizers and
#      EMA imported from the checkout at OFFICIAL, torch.compile'd), when OFFICIAL is set
# at each config, ROUNDS rounds each (the order of the runs rotates per round), then a table of
# medians over rounds.
#
#   bash benches/compare/compare.sh
#   OFFICIAL=/path/to/TinyRecursiveModels CONFIGS="attn128 mlp512" bash benches/compare/compare.sh
#
# Environment: ROUNDS (3), WARMUP (3), WINDOWS (10), STEPS (5) as for `ouro bench`;
# CONFIGS ("tiny small tiny-bf16 small-bf16"; also attn128 and mlp512, issue 21's two, and their
# float32 variants attn128-f32 and mlp512-f32);
# OURO_CACHE_DIR (~/.cache/ouro: the venvs go to tools/jax-venv and tools/torch-venv);
# OURO_BIN (skip the build and use this binary); KEEP=1 keeps the work directory;
# JAX_JEMALLOC (the libjemalloc.so for run 4; default: the system's, if any; empty: skip run 4);
# OFFICIAL (a TinyRecursiveModels checkout: adds run 5); TORCH_PY (its python; default: the
# torch venv, created with torch 2.15.0 when missing); EVAL=1 times the eval step instead
# (`halt_max_steps` forward ACT steps on a fresh carry): ouro's and, with OFFICIAL, PyTorch's
# (trm_jax.py has no eval step, so runs 2-4 are skipped); PLATFORM=gpu runs all of them on the
# GPU (ouro `--platform gpu`, JAX_PLATFORMS=cuda, the official code on `cuda`; run 4 is skipped);
# BATCH overrides every config's batch; JAX_PY (a python with jax for a GPU, used as it is).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${OURO_CACHE_DIR:-$HOME/.cache/ouro}"
venv="$cache/tools/jax-venv"
jax_version="0.10.2"
rounds="${ROUNDS:-3}"
warmup="${WARMUP:-3}"
windows="${WINDOWS:-10}"
steps="${STEPS:-5}"
configs="${CONFIGS:-tiny small tiny-bf16 small-bf16}"
torch_version="2.15.0"
eval_step="${EVAL:-0}"
platform="${PLATFORM:-cpu}"
case "$platform" in
    cpu) jax_platform=cpu; torch_device=cpu ;;
    gpu) jax_platform=cuda; torch_device=cuda; JAX_JEMALLOC= ;;
    *) echo "PLATFORM=$platform: expected cpu or gpu" >&2; exit 2 ;;
esac
step_flag=()
if [ "$eval_step" = 1 ]; then step_flag=(--eval); fi

# --- the JAX venv ---------------------------------------------------------------------------
py="${JAX_PY:-$venv/bin/python}"
if [ -z "${JAX_PY:-}" ] && ! { [ -x "$py" ] && "$py" -c "import jax, jaxlib, sys; sys.exit(jax.__version__ != '$jax_version' or jaxlib.__version__ != '$jax_version')" 2>/dev/null; }; then
    echo "== creating $venv (jax==$jax_version jaxlib==$jax_version)" >&2
    python3 -m venv "$venv"
    "$py" -m pip install --quiet --upgrade pip
    "$py" -m pip install --quiet "jax==$jax_version" "jaxlib==$jax_version"
fi

# --- the PyTorch venv (with OFFICIAL) -------------------------------------------------------
if [ -n "${OFFICIAL:-}" ]; then
    OFFICIAL="$(realpath "$OFFICIAL")"
    [ -f "$OFFICIAL/pretrain.py" ] || { echo "OFFICIAL=$OFFICIAL: no pretrain.py (a TinyRecursiveModels checkout?)" >&2; exit 2; }
    if [ -z "${TORCH_PY:-}" ]; then
        TORCH_PY="$cache/tools/torch-venv/bin/python"
        if ! "$TORCH_PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" 2>/dev/null; then
            echo "== creating $cache/tools/torch-venv (torch==$torch_version and the official code's imports)" >&2
            python3 -m venv "$cache/tools/torch-venv"
            "$TORCH_PY" -m pip install --quiet "torch==$torch_version" numpy einops pydantic hydra-core omegaconf \
                coolname tqdm pyyaml argdantic
        fi
    fi
fi

# --- ouro -----------------------------------------------------------------------------------
if [ -n "${OURO_BIN:-}" ]; then
    ouro="$OURO_BIN"
else
    echo "== cargo build --release" >&2
    (cd "$root" && cargo build --release)
    ouro="$root/target/release/ouro"
fi

if [ -z "${JAX_JEMALLOC+set}" ]; then
    JAX_JEMALLOC="$(ls /usr/lib/*/libjemalloc.so.2 /usr/lib64/libjemalloc.so.2 2>/dev/null | head -n 1 || true)"
fi
if [ -n "$JAX_JEMALLOC" ] && [ ! -f "$JAX_JEMALLOC" ]; then
    echo "JAX_JEMALLOC=$JAX_JEMALLOC: no such file" >&2
    exit 2
fi
[ -n "$JAX_JEMALLOC" ] || echo "== no libjemalloc.so found: the JAX+jemalloc runs are skipped" >&2

work="$(mktemp -d "${TMPDIR:-/tmp}/ouro-compare.XXXXXX")"
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; fi
results="$work/results.jsonl"
: > "$results"

# Config shapes: name hidden heads expansion L_layers H_cycles L_cycles puzzle_emb_len pos dtype halt batch seq vocab puzzle_ids mlp_t
# attn128 and mlp512 are issue 21's: the official arch (H 3 x L 6, 16 puzzle tokens, 16 ACT steps)
# on 9x9 Sudoku, with attention at D 128 and batch 64, and the paper's Sudoku TRM-MLP at batch 16;
# the -f32 variants run the same in float32 (for CPUs without bf16 instructions, where PyTorch's
# bf16 path is a different program).
shape_of() {
    case "$1" in
        tiny) echo "64 4 2 2 2 2 1 rope float32 4 64 16 6 1 false" ;;
        small) echo "256 4 4 2 2 2 1 rope float32 4 32 81 11 1 false" ;;
        tiny-bf16) echo "64 4 2 2 2 2 1 rope bfloat16 4 64 16 6 1 false" ;;
        small-bf16) echo "256 4 4 2 2 2 1 rope bfloat16 4 32 81 11 1 false" ;;
        attn128) echo "128 4 4 2 3 6 16 rope bfloat16 16 64 81 11 1 false" ;;
        mlp512) echo "512 8 4 2 3 6 16 none bfloat16 16 16 81 11 1 true" ;;
        attn128-f32) echo "128 4 4 2 3 6 16 rope float32 16 64 81 11 1 false" ;;
        mlp512-f32) echo "512 8 4 2 3 6 16 none float32 16 16 81 11 1 true" ;;
        *) echo "unknown config $1 (tiny, small, tiny-bf16, small-bf16, attn128, mlp512, attn128-f32, mlp512-f32)" >&2; exit 2 ;;
    esac
}

# The ouro config: benches/train.rs's `config` (lr 1e-3, wd 0.1, puzzle lr 1e-2, puzzle wd 0.1,
# EMA on, defaults otherwise: AdamATan2 0.9/0.95, warm-up 2000, EMA rate 0.999).
write_yaml() { # file hidden heads expansion l_layers h_cycles l_cycles p_len pos dtype halt batch mlp_t
    cat > "$1" <<EOF
arch:
  hidden_size: $2
  num_heads: $3
  expansion: $4
  L_layers: $5
  H_cycles: $6
  L_cycles: $7
  puzzle_emb_len: $8
  mlp_t: ${13}
  pos_encodings: $9
  forward_dtype: ${10}
  halt_max_steps: ${11}
data_paths: [unused]
global_batch_size: ${12}
epochs: 1
lr: 1.0e-3
weight_decay: 0.1
puzzle_emb_lr: 1.0e-2
puzzle_emb_weight_decay: 0.1
ema: true
EOF
}

# Runs a command, appends its last stdout line (one JSON object) tagged with config/kind/round.
record() { # config kind round command...
    local config="$1" kind="$2" round="$3"
    shift 3
    local out="$work/out.txt" err="$work/err.txt"
    if ! "$@" > "$out" 2> "$err"; then
        echo "!! $kind ($config, round $round) failed: $*" >&2
        cat "$out" "$err" >&2
        exit 1
    fi
    tail -n 1 "$out" | CONFIG="$config" KIND="$kind" ROUND="$round" "$py" -c '
import json, os, sys
line = sys.stdin.read().strip()
try:
    r = json.loads(line)
except ValueError:
    sys.exit("the last line of stdout is not JSON: " + line[:200])
r.update(config=os.environ["CONFIG"], kind=os.environ["KIND"], round=int(os.environ["ROUND"]))
print(json.dumps(r))' >> "$results"
    "$py" - "$results" <<'EOF' >&2
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(f"   {r['config']:6s} round {r['round']} {r['kind']:10s} {r['median_step_seconds']*1e3:9.2f} ms/step  compile {r['compile_seconds']:.2f} s")
EOF
}

for config in $configs; do shape_of "$config" > /dev/null; done

export JAX_PLATFORMS="$jax_platform"
timing=(--warmup "$warmup" --windows "$windows" --steps "$steps")
for config in $configs; do
    shape="$(shape_of "$config")"
    read -r hidden heads expansion l_layers h_cycles l_cycles p_len pos dtype halt batch seq vocab pids mlp_t <<< "$shape"
    batch="${BATCH:-$batch}"
    dir="$work/$config"
    mkdir -p "$dir"
    write_yaml "$dir/ouro.yaml" "$hidden" "$heads" "$expansion" "$l_layers" "$h_cycles" "$l_cycles" "$p_len" "$pos" "$dtype" "$halt" "$batch" "$mlp_t"
    # trm_jax.py's flags, which trm_torch.py shares.
    jax_args=(--hidden-size "$hidden" --num-heads "$heads" --expansion "$expansion" --l-layers "$l_layers"
        --h-cycles "$h_cycles" --l-cycles "$l_cycles" --puzzle-emb-len "$p_len" --pos-encodings "$pos"
        --forward-dtype "$dtype" --halt-max-steps "$halt" --batch "$batch" --seq-len "$seq" --vocab-size "$vocab"
        --num-puzzle-ids "$pids")
    if [ "$mlp_t" = true ]; then jax_args+=(--mlp-t); fi
    if [ "$eval_step" = 1 ]; then
        runs_of_config=(ouro)
    else
        echo "== $config: exporting the JAX step" >&2
        "$py" "$here/trm_jax.py" "${jax_args[@]}" export --out "$dir/jax" > "$dir/export.json"
        runs_of_config=(ouro jax jax_on_ouro)
        if [ -n "$JAX_JEMALLOC" ]; then runs_of_config+=(jax_jemalloc); fi
    fi
    for ((round = 1; round <= rounds; round++)); do
        runs=("${runs_of_config[@]}")
        if [ -n "${OFFICIAL:-}" ]; then runs+=(torch); fi
        shift_by=$(((round - 1) % ${#runs[@]}))
        order=("${runs[@]:shift_by}" "${runs[@]:0:shift_by}")
        for kind in "${order[@]}"; do
            case "$kind" in
                ouro) record "$config" ouro "$round" "$ouro" --platform "$platform" bench --config "$dir/ouro.yaml" --seq-len "$seq" \
                    --vocab-size "$vocab" --puzzle-ids "$pids" "${step_flag[@]}" "${timing[@]}" --json ;;
                jax) record "$config" jax "$round" "$py" "$here/trm_jax.py" "${jax_args[@]}" bench "${timing[@]}" ;;
                jax_jemalloc) record "$config" jax_jemalloc "$round" env LD_PRELOAD="$JAX_JEMALLOC" \
                    MALLOC_CONF=oversize_threshold:0 "$py" "$here/trm_jax.py" "${jax_args[@]}" bench "${timing[@]}" ;;
                torch) record "$config" torch "$round" env PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "$TORCH_PY" "$here/trm_torch.py" \
                    "$OFFICIAL" "${jax_args[@]}" bench --device "$torch_device" "${step_flag[@]}" "${timing[@]}" ;;
                jax_on_ouro) record "$config" jax_on_ouro "$round" "$ouro" --platform "$platform" bench --stablehlo "$dir/jax/step.mlir" \
                    --args "$dir/jax/args.safetensors" --rows "$batch" "${timing[@]}" --json ;;
            esac
        done
    done
done

"$py" - "$results" "$rounds" "$eval_step" "$platform" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
step = "eval" if sys.argv[3] == "1" else "train"
has = {r["kind"] for r in rows}
configs = list(dict.fromkeys(r["config"] for r in rows))
jax_version = next((r["jax_version"] for r in rows if r["kind"] == "jax"), "?")
def med(config, kind, key):
    v = [r[key] for r in rows if r["config"] == config and r["kind"] == kind]
    return statistics.median(v) if v else float("nan")
print()
gpu = sys.argv[4] == "gpu"
ouro_runs = [r for r in rows if r["kind"] == "ouro"]
where = ouro_runs[0].get("device_kind", "GPU") if gpu and ouro_runs else "CPU"
print(f"TRM {step} step on {where}, medians over {sys.argv[2]} rounds (each round: median of the timed windows)")
plugin = "the CUDA plugin in python's site-packages" if gpu else "the pinned PJRT CPU plugin (XLA of jax 0.11.2)"
print(f"ouro: its own graph on {plugin}.")
if "jax" in has:
    print(f"JAX {jax_version} with its own jaxlib XLA; JAX graph on ouro runtime: trm_jax.py's StableHLO run by")
    print("`ouro bench --stablehlo` on the same plugin as ouro.")
if gpu:
    for r in ouro_runs:
        mfu = f"{r['mfu'] * 100:.1f} %" if r.get("mfu") is not None else "?"
        print(f"ouro {r['config']} round {r['round']}: {r['examples_per_second']:.0f} examples/s, MFU {mfu}")
jax = "jax" in has
jemalloc = "jax_jemalloc" in has
torch_runs = [r for r in rows if r["kind"] == "torch"]
if torch_runs:
    what = "evaluation loop" if step == "eval" else "TRM, loss head, optimizers and EMA"
    print(f"PyTorch {torch_runs[0]['torch_version']}: the official {what}, torch.compile'd.")
head = ["config", "ouro ms"]
if jax:
    head += ["JAX ms", "ouro/JAX", "JAX-graph@ouro ms"]
if jemalloc:
    head += ["JAX+jemalloc ms", "ouro/(JAX+jemalloc)"]
if torch_runs:
    head += ["PyTorch ms", "ouro/PyTorch"]
head += ["compile ouro s"]
if jax:
    head += ["compile JAX s", "compile JAX-graph@ouro s"]
if torch_runs:
    head += ["first step PyTorch s"]
table = []
for c in configs:
    o, j, x = (med(c, k, "median_step_seconds") for k in ("ouro", "jax", "jax_on_ouro"))
    row = [c, f"{o*1e3:.2f}"]
    if jax:
        row += [f"{j*1e3:.2f}", f"{o/j:.3f}", f"{x*1e3:.2f}"]
    if jemalloc:
        je = med(c, "jax_jemalloc", "median_step_seconds")
        row += [f"{je*1e3:.2f}", f"{o/je:.3f}"]
    if torch_runs:
        t = med(c, "torch", "median_step_seconds")
        row += [f"{t*1e3:.2f}", f"{o/t:.3f}"]
    row += [f"{med(c, 'ouro', 'compile_seconds'):.2f}"]
    if jax:
        row += [f"{med(c, 'jax', 'compile_seconds'):.2f}", f"{med(c, 'jax_on_ouro', 'compile_seconds'):.2f}"]
    if torch_runs:
        row += [f"{med(c, 'torch', 'compile_seconds'):.2f}"]
    table.append(row)
widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(head)]
fmt = lambda r: "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
print(fmt(head))
for r in table:
    print(fmt(r))
print("ouro/JAX, ouro/PyTorch > 1: ouro is slower. Compile: ouro = its XLA compile of the traced step", end="")
if jax:
    print("; JAX = trace + lower + compile;")
    print("JAX-graph@ouro = the plugin's compile of JAX's StableHLO text.")
else:
    print(".")
EOF
