"""The learning-curve comparison's two chores (benches/compare/curves.sh):

  python curves.py official-config RESOLVED.yaml > CONFIG.json
      the keys of ouro's resolved config that the official `cfg_pretrain.yaml` has, as the
      official `pretrain.launch` takes them (ouro-only keys such as `mesh` or the loss dtype are
      left out; the official computes its cross-entropy in float64, which the config matches);
  python curves.py table DIR SEED...
      the evaluations of DIR/ouro-<seed>/metrics.jsonl and DIR/official-<seed>.jsonl side by
      side: exact accuracy and lm_loss per evaluation, mean and range over the seeds.
"""
import json
import statistics
import sys

import yaml

PRETRAIN_KEYS = [
    "data_paths", "data_paths_test", "evaluators", "global_batch_size", "epochs", "lr", "lr_min_ratio",
    "lr_warmup_steps", "weight_decay", "beta1", "beta2", "puzzle_emb_lr", "puzzle_emb_weight_decay", "seed",
    "eval_interval", "min_eval_interval", "ema", "ema_rate", "freeze_weights",
]
ARCH_KEYS = [
    "name", "hidden_size", "num_heads", "expansion", "L_layers", "H_layers", "H_cycles", "L_cycles",
    "puzzle_emb_ndim", "puzzle_emb_len", "pos_encodings", "forward_dtype", "mlp_t", "halt_max_steps",
    "halt_exploration_prob", "no_ACT_continue", "rms_norm_eps", "rope_theta",
]


def official_config(path):
    with open(path) as f:
        resolved = yaml.safe_load(f)
    arch = resolved["arch"]
    out = {k: resolved[k] for k in PRETRAIN_KEYS if k in resolved}
    out["arch"] = {k: arch[k] for k in ARCH_KEYS if arch.get(k) is not None}
    out["arch"].setdefault("puzzle_emb_ndim", arch["hidden_size"])
    out["arch"]["loss"] = {"name": arch["loss"]["name"], "loss_type": arch["loss"]["loss_type"]}
    out["checkpoint_path"] = None
    json.dump(out, sys.stdout, indent=1)


EVALUATED = ["all/accuracy", "all/exact_accuracy", "all/lm_loss"]


def evaluations(path):
    """{step: (accuracy, exact accuracy, lm_loss)} of the evaluation records of a JSON-lines file."""
    out = {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if all(k in record for k in EVALUATED):
                out[record["step"]] = tuple(record[k] for k in EVALUATED)
    return out


def spread(values):
    return f"{statistics.mean(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def table(directory, seeds):
    ouro = [evaluations(f"{directory}/ouro-{s}/metrics.jsonl") for s in seeds]
    official = [evaluations(f"{directory}/official-{s}.jsonl") for s in seeds]
    steps = sorted(set.intersection(*(set(e) for e in ouro + official)))
    head = [f"{what}, {side}" for what in ("accuracy", "exact accuracy", "lm_loss") for side in ("ouro", "official")]
    print("| step | " + " | ".join(head) + " |")
    print("|---|" + "---|" * len(head))
    for step in steps:
        cells = [spread([e[step][i] for e in side]) for i in range(len(EVALUATED)) for side in (ouro, official)]
        print(f"| {step} | " + " | ".join(cells) + " |")
    print(f"\nMean (min–max) over seeds {', '.join(seeds)}.")


if __name__ == "__main__":
    if sys.argv[1] == "official-config":
        official_config(sys.argv[2])
    elif sys.argv[1] == "table":
        table(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(f"unknown command {sys.argv[1]!r}: official-config or table")
