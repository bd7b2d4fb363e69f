"""The official PyTorch TRM's train step (or eval step), timed on CPU or a GPU, for compare.sh.

Usage: python trm_torch.py /path/to/TinyRecursiveModels [shape and hyperparameter flags] bench
           [--eval] [--no-compile] [--device cpu|cuda] [--warmup N] [--windows N] [--steps N]

The step is the official code's, imported from the checkout (nothing copied): `pretrain.
create_model` builds the TRM with its ACT loss head, `torch.compile`d as the official trains it
(unless --no-compile), its optimizers (AdamATan2 stood in, see official_curves.py; the sparse
SignSGD of the puzzle embeddings) and learning rates; one step is `pretrain.train_batch` followed
by the EMA update, as the official loop does. The eval step (--eval) is the inner loop of the
official `evaluate` for one batch: a fresh carry, then the model until every sequence halts
(`halt_max_steps` ACT steps in eval mode), under `torch.inference_mode`.

The flags are trm_jax.py's (the same shapes and hyperparameters as compare.sh's ouro config);
the batch is synthetic (random tokens, puzzle identifier 0), like `ouro bench`'s. Each window is
STEPS steps back to back (on a GPU, waited for once at its end); the median window is
reported, after WARMUP steps (the first one compiles). On a GPU (--device cuda) the official code
runs as written, on `cuda`; AdamATan2 is still the stand-in of official_curves.py (the kernel
package is not on PyPI), a per-tensor loop of torch ops where the package launches one kernel.
Prints one JSON line: median_step_seconds, compile_seconds (the first step's time,
torch.compile's trace and inductor build included), windows, torch_version.
"""
import argparse
import json
import os
import sys
import time

import torch

from official_curves import import_pretrain, recorder
from trm_flags import add_config_flags


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("official", help="a TinyRecursiveModels checkout")
    add_config_flags(p)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time the official step; one JSON line")
    b.add_argument("--eval", action="store_true", help="the eval step instead of the train step")
    b.add_argument("--no-compile", action="store_true", help="eager PyTorch (the official DISABLE_COMPILE)")
    b.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the official code runs")
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--windows", type=int, default=10)
    b.add_argument("--steps", type=int, default=5)
    b.add_argument("--profile", metavar="FILE", help="after timing, profile one more window with "
                   "torch.profiler and write its per-op table (self time, input shapes) here")
    return p


def official_config(args) -> dict:
    """The keys of the official cfg_pretrain.yaml with config/arch/trm.yaml, as hydra passes them."""
    arch = dict(
        name="recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
        loss=dict(name="losses@ACTLossHead", loss_type="stablemax_cross_entropy"),
        halt_exploration_prob=0.1,
        halt_max_steps=args.halt_max_steps,
        H_cycles=args.h_cycles,
        L_cycles=args.l_cycles,
        H_layers=0,
        L_layers=args.l_layers,
        hidden_size=args.hidden_size,
        num_heads=args.num_heads,
        expansion=args.expansion,
        puzzle_emb_ndim=args.hidden_size,
        pos_encodings=args.pos_encodings,
        forward_dtype=args.forward_dtype,
        mlp_t=args.mlp_t,
        puzzle_emb_len=args.puzzle_emb_len,
        no_ACT_continue=True,
    )
    return dict(
        arch=arch,
        data_paths=["synthetic"],
        global_batch_size=args.batch,
        epochs=1,
        lr=args.lr,
        lr_min_ratio=1.0,
        lr_warmup_steps=2000,
        weight_decay=args.weight_decay,
        beta1=0.9,
        beta2=0.95,
        puzzle_emb_lr=args.puzzle_emb_lr,
        puzzle_emb_weight_decay=args.puzzle_emb_weight_decay,
        seed=args.seed,
        ema=not args.no_ema,
        ema_rate=args.ema_rate,
    )


def synthetic_batch(args) -> dict:
    g = torch.Generator().manual_seed(args.seed)
    tokens = lambda: torch.randint(1, args.vocab_size, (args.batch, args.seq_len), generator=g, dtype=torch.int32)
    return dict(inputs=tokens(), labels=tokens(), puzzle_identifiers=torch.zeros(args.batch, dtype=torch.int32))


def cmd_bench(args) -> None:
    if args.no_compile:
        os.environ["DISABLE_COMPILE"] = "1"
    pretrain = import_pretrain(args.official, recorder(os.devnull), on_cpu=args.device == "cpu")
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    torch.manual_seed(args.seed)
    config = pretrain.PretrainConfig(**official_config(args))
    metadata = pretrain.PuzzleDatasetMetadata(
        pad_id=0,
        ignore_label_id=0,
        blank_identifier_id=0,
        vocab_size=args.vocab_size,
        seq_len=args.seq_len,
        num_puzzle_identifiers=args.num_puzzle_ids,
        total_groups=1,
        mean_puzzle_examples=1.0,
        total_puzzles=1,
        sets=["all"],
    )
    model, optimizers, optimizer_lrs = pretrain.create_model(config, metadata, rank=0, world_size=1)
    state = pretrain.TrainState(model, optimizers, optimizer_lrs, carry=None, step=0, total_steps=1_000_000)
    ema = None
    if config.ema:
        ema = pretrain.EMAHelper(mu=config.ema_rate)
        ema.register(model)
    batch = synthetic_batch(args)

    def train_step():
        pretrain.train_batch(config, state, batch, global_batch_size=args.batch, rank=0, world_size=1)
        if ema is not None:
            ema.update(model)

    def eval_step():
        # As the official `evaluate` does for each batch: the batch to the device, a fresh carry there.
        with torch.inference_mode():
            device_batch = {k: v.to(args.device) for k, v in batch.items()}
            with torch.device(args.device):
                carry = model.initial_carry(device_batch)
            while True:
                carry, _, _, _, all_finish = model(carry=carry, batch=device_batch, return_keys=[])
                if all_finish:
                    break

    if args.eval:
        model.eval()
    step = eval_step if args.eval else train_step
    started = time.perf_counter()
    step()
    sync()
    compile_seconds = time.perf_counter() - started
    for _ in range(max(args.warmup - 1, 0)):
        step()
    sync()
    windows = []
    for _ in range(args.windows):
        started = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        windows.append((time.perf_counter() - started) / args.steps)
    windows.sort()
    if args.profile:
        write_profile(args.profile, step, args.steps, sync, cuda=args.device == "cuda")
    median = windows[len(windows) // 2]  # the same pick as `ouro bench`
    print(json.dumps(dict(
        impl="pytorch",
        torch_version=torch.__version__,
        threads=torch.get_num_threads(),
        compiled=not args.no_compile,
        device=torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        step="eval" if args.eval else "train",
        rows=args.batch,
        compile_seconds=compile_seconds,
        median_step_seconds=median,
        windows=windows,
        examples_per_second=args.batch / median,
    )))


def write_profile(path, step, steps, sync, cuda) -> None:
    """One window of `steps` steps under torch.profiler: the ops by self time, with input shapes."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, record_shapes=True) as prof:
        for _ in range(steps):
            step()
        sync()
    sort_by = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    with open(path, "w") as f:
        f.write(f"# torch.profiler, {steps} steps; ops by {sort_by}\n")
        f.write(prof.key_averages().table(sort_by=sort_by, row_limit=60, max_name_column_width=60) + "\n")
        f.write("# the same, grouped by input shape\n")
        f.write(prof.key_averages(group_by_input_shape=True).table(
            sort_by=sort_by, row_limit=80, max_name_column_width=50, max_shapes_column_width=80) + "\n")


def main() -> None:
    args = parser().parse_args()
    if args.windows < 1 or args.steps < 1:
        sys.exit("--windows and --steps must be at least 1")
    cmd_bench(args)


if __name__ == "__main__":
    main()
