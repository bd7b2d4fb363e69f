#!/usr/bin/env python3
"""Runs two StableHLO train steps with the same signature on the same arguments through
jaxlib's CPU client and compares them: the metrics output of each step, and every output after
the last step. For checking that trm_jax.py computes what ouro computes:

  python trm_jax.py [config flags] export --out /tmp/jax
  ouro bench --config <same config>.yaml --seq-len .. --vocab-size .. --puzzle-ids .. \
      --warmup 0 --windows 1 --steps 1 --emit-stablehlo /tmp/ouro.mlir
  python check_parity.py /tmp/ouro.mlir /tmp/jax/step.mlir /tmp/jax/args.safetensors --steps 8

Donated parameters (`tf.aliasing_output`) are fed back from the outputs they alias, as
`ouro bench --stablehlo` does. Uses jaxlib internals (`jax._src`), tested with jax 0.10.2.
"""

import argparse
import json
import re
import struct

import ml_dtypes
import numpy as np

import jax
from jax._src import xla_bridge
from jax._src.lib import xla_client

DTYPES = {"F32": np.float32, "BF16": ml_dtypes.bfloat16, "F16": np.float16, "I32": np.int32, "U32": np.uint32, "BOOL": np.bool_}


def read_safetensors(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + n])
    header.pop("__metadata__", None)
    out = []
    for i in range(len(header)):
        h = header[f"arg{i}"]
        start, end = h["data_offsets"]
        out.append(np.frombuffer(blob[8 + n + start : 8 + n + end], dtype=DTYPES[h["dtype"]]).reshape(h["shape"]))
    return out


def aliases(text):
    """For each @main parameter, the output it aliases (or None)."""
    start = text.index("func.func public @main(")
    signature = text[start : text.index("->", start)]
    parts = signature.split("%arg")[1:]
    return [int(m.group(1)) if (m := re.search(r"tf\.aliasing_output = (\d+)", p)) else None for p in parts]


def run(path, args, steps):
    text = open(path).read()
    backend = xla_bridge.get_backend("cpu")
    devices = xla_client.DeviceList(tuple(backend.local_devices()[:1]))
    exe = backend.compile_and_load(text, devices, xla_client.CompileOptions())
    alias = aliases(text)
    if len(alias) != len(args):
        raise SystemExit(f"{path}: @main has {len(alias)} parameters, the arguments file {len(args)}")
    bufs = [jax.device_put(a) for a in args]
    metrics, outs = [], None
    for _ in range(steps):
        outs = exe.execute(bufs)
        bufs = [outs[k] if k is not None else b for k, b in zip(alias, bufs)]
        metrics.append(np.asarray(outs[-1]))
    return metrics, [np.asarray(o) for o in outs]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("args")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--tolerance", type=float, default=1e-4, help="relative max-abs difference reported")
    o = p.parse_args()
    args = read_safetensors(o.args)
    ma, oa = run(o.a, args, o.steps)
    mb, ob = run(o.b, args, o.steps)
    np.set_printoptions(precision=6, suppress=True, linewidth=160)
    for i, (x, y) in enumerate(zip(ma, mb)):
        print(f"step {i + 1} metrics\n  a {x}\n  b {y}")
    worst = 0.0
    for i, (x, y) in enumerate(zip(oa, ob)):
        if x.size == 0:
            continue
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        d = float(np.max(np.abs(x64 - y64)) / (np.max(np.abs(x64)) + 1e-12))
        worst = max(worst, d)
        if d > o.tolerance:
            print(f"output {i} {x.dtype}{list(x.shape)}: relative max-abs difference {d:.3g}")
    print(f"after {o.steps} steps: worst relative max-abs difference over {len(oa)} outputs: {worst:.3g}")


if __name__ == "__main__":
    main()
