"""The shape and hyperparameter flags trm_jax.py and trm_torch.py share, so that compare.sh
hands both sides (and ouro's YAML) the same config."""
import argparse


def add_config_flags(p: argparse.ArgumentParser) -> None:
    a = p.add_argument
    a("--hidden-size", type=int, default=64)
    a("--num-heads", type=int, default=4)
    a("--expansion", type=float, default=2.0)
    a("--l-layers", type=int, default=2)
    a("--h-cycles", type=int, default=2)
    a("--l-cycles", type=int, default=2)
    a("--puzzle-emb-len", type=int, default=1)
    a("--mlp-t", action="store_true")
    a("--pos-encodings", choices=["rope", "none", "learned"], default="rope")
    a("--forward-dtype", choices=["float32", "bfloat16"], default="float32")
    a("--halt-max-steps", type=int, default=4)
    a("--batch", type=int, default=64)
    a("--seq-len", type=int, default=16)
    a("--vocab-size", type=int, default=6)
    a("--num-puzzle-ids", type=int, default=1)
    a("--seed", type=int, default=0)
    a("--lr", type=float, default=1e-3)
    a("--weight-decay", type=float, default=0.1)
    a("--puzzle-emb-lr", type=float, default=1e-2)
    a("--puzzle-emb-weight-decay", type=float, default=0.1)
    a("--ema-rate", type=float, default=0.999)
    a("--no-ema", action="store_true")
