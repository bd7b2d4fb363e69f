"""Trains the official PyTorch TRM on CPU and writes its metrics, for the learning-curve
comparison of benches/compare/curves.sh.

Usage: python official_curves.py /path/to/TinyRecursiveModels CONFIG.json OUT.jsonl

The official `pretrain.launch` runs as it is, training loop, evaluation and all (imported from
the checkout, nothing copied), with what a CPU-only machine lacks put in its place:
  - `adam_atan2` is a CUDA kernel package: an optimizer with the same rule (no epsilon,
    a = b = 1, as in tests/fixtures/trm_parity.py) stands in;
  - `wandb` is replaced by a recorder that writes every `wandb.log` call as one JSON line;
  - the official code asks for `cuda` by name (`with torch.device("cuda")`, `.cuda()`,
    `device="cuda"`): in `pretrain` those resolve to the CPU;
  - torch.compile is off (`DISABLE_COMPILE`), as the official code allows.
CONFIG.json holds the keys of the official `cfg_pretrain.yaml` (the arch included), as
`hydra` would pass them.
"""
import json
import math
import os
import sys
import types

import torch


class AdamATan2(torch.optim.Optimizer):
    """The rule of imoneoi/adam_atan2's kernel (no epsilon, a = b = 1)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.99), weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                p.mul_(1 - lr * wd)
                state["m"].lerp_(p.grad, 1 - b1)
                state["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                c1, c2 = 1 - b1 ** t, 1 - b2 ** t
                p.add_(torch.atan2(state["m"], state["v"].sqrt() / math.sqrt(c2)), alpha=-lr / c1)


def recorder(path):
    """A `wandb` that writes each logged dict, flattened, with its step."""
    out = open(path, "w")
    wandb = types.ModuleType("wandb")
    wandb.run = None

    def log(metrics, step=None):
        flat = {}
        for k, v in metrics.items():
            for kk, vv in (v.items() if isinstance(v, dict) else [(None, v)]):
                flat[f"{k}/{kk}" if kk else k] = float(vv)
        out.write(json.dumps(dict(step=step, **flat)) + "\n")
        out.flush()

    wandb.init = lambda *a, **k: None
    wandb.log = log
    wandb.finish = out.close
    wandb.Settings = lambda *a, **k: None
    return wandb


class CpuTorch(types.ModuleType):
    """`torch` for the official `pretrain`, where `cuda` means the CPU."""

    def __getattr__(self, name):
        value = getattr(torch, name)
        if callable(value) and name in ("zeros", "ones", "empty", "tensor", "load"):
            return lambda *a, **k: value(*a, **{**k, **self.cpu(k)})
        return value

    @staticmethod
    def cpu(kwargs):
        return {key: "cpu" for key in ("device", "map_location") if str(kwargs.get(key, "")).startswith("cuda")}

    @staticmethod
    def device(spec, *args):
        return torch.device("cpu") if str(spec).startswith("cuda") else torch.device(spec, *args)


def import_pretrain(official, wandb, on_cpu=True):
    """The official `pretrain` module of the checkout at `official`: AdamATan2 and `wandb` stood
    in and, `on_cpu`, `cuda` tensors and devices resolved to the CPU."""
    sys.modules["adam_atan2"] = types.SimpleNamespace(AdamATan2=AdamATan2)
    sys.modules["wandb"] = wandb
    if on_cpu:
        torch.Tensor.cuda = lambda self, *a, **k: self
    sys.path.insert(0, official)
    import pretrain  # noqa: E402  (the official training script)

    if on_cpu:
        pretrain.torch = CpuTorch("torch")
    return pretrain


def main():
    official, config_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    os.environ["DISABLE_COMPILE"] = "1"
    pretrain = import_pretrain(official, recorder(out))
    with open(config_path) as f:
        config = json.load(f)
    # hydra's `main` hands a passed config straight to the task.
    pretrain.launch(config)


if __name__ == "__main__":
    main()
