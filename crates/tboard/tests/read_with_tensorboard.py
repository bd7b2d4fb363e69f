#!/usr/bin/env python3
"""Checks that TensorBoard itself reads an event file written by ouro-tboard.

Usage:
  read_with_tensorboard.py EVENT_FILE [--scalar TAG STEP VALUE]...
                           [--histogram TAG STEP NUM]... [--text TAG STEP TEXT]...

Loads the file with both of TensorBoard's Python loaders: the classic EventAccumulator
and the plugin EventAccumulator the TensorBoard server uses (which converts old-style
scalars and histograms to tensors, so it catches malformed buckets). The tags of each kind
must be exactly those expected, and each expectation must match. Any warning TensorBoard
logs is a failure.

Exit status: 0 all good, 1 mismatch, 2 tensorboard not importable.
"""

import argparse
import logging
import math
import sys

try:
    from tensorboard.backend.event_processing import event_accumulator as ea_mod
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea_mod
    from tensorboard.util import tensor_util
except ImportError as e:
    print(f"tensorboard is not importable by {sys.executable}: {e}", file=sys.stderr)
    print("install it with: pip install tensorboard", file=sys.stderr)
    sys.exit(2)

errors = []
warnings = []


class Collect(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())


def check(ok, what):
    if not ok:
        errors.append(what)


def close(a, b):
    # Scalars are stored as 32-bit floats.
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-30)


def at_step(events, step, what):
    found = [e for e in events if e.step == step]
    check(len(found) == 1, f"{what}: {len(found)} events at step {step}, expected 1")
    return found[0] if found else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--scalar", nargs=3, action="append", default=[], metavar=("TAG", "STEP", "VALUE"))
    p.add_argument("--histogram", nargs=3, action="append", default=[], metavar=("TAG", "STEP", "NUM"))
    p.add_argument("--text", nargs=3, action="append", default=[], metavar=("TAG", "STEP", "TEXT"))
    args = p.parse_args()

    handler = Collect(level=logging.WARNING)
    logging.getLogger().addHandler(handler)
    logging.getLogger("tensorboard").addHandler(handler)

    # Size guidance 0 keeps every event instead of a reservoir sample.
    everything = {k: 0 for k in (ea_mod.SCALARS, ea_mod.HISTOGRAMS, ea_mod.COMPRESSED_HISTOGRAMS,
                                 ea_mod.TENSORS, ea_mod.IMAGES, ea_mod.AUDIO)}

    # The classic accumulator keeps scalars, histograms and tensors apart.
    ea = ea_mod.EventAccumulator(args.file, size_guidance=everything)
    ea.Reload()
    tags = ea.Tags()
    # The accumulator keeps the number after "brain.Event:".
    check(ea.file_version == 2.0, f"file_version {ea.file_version!r}")
    for kind, key, wanted in [("scalar", "scalars", args.scalar),
                              ("histogram", "histograms", args.histogram),
                              ("text", "tensors", args.text)]:
        expected = sorted({t for t, _, _ in wanted})
        check(sorted(tags[key]) == expected, f"{kind} tags {sorted(tags[key])}, expected {expected}")
    if errors:
        return

    for tag, step, value in args.scalar:
        e = at_step(ea.Scalars(tag), int(step), f"scalar {tag}")
        if e:
            check(close(e.value, float(value)), f"scalar {tag}@{step}: {e.value}, expected {value}")
    for tag, step, num in args.histogram:
        e = at_step(ea.Histograms(tag), int(step), f"histogram {tag}")
        if e:
            h = e.histogram_value
            limits = list(h.bucket_limit)
            check(h.num == float(num), f"histogram {tag}@{step}: num {h.num}, expected {num}")
            check(sum(h.bucket) == h.num, f"histogram {tag}@{step}: buckets sum to {sum(h.bucket)}")
            check(len(limits) == len(h.bucket), f"histogram {tag}@{step}: limit/bucket lengths differ")
            check(all(a < b for a, b in zip(limits, limits[1:])),
                  f"histogram {tag}@{step}: bucket_limit not increasing: {limits}")
    for tag, step, text in args.text:
        e = at_step(ea.Tensors(tag), int(step), f"text {tag}")
        if e:
            got = tensor_util.make_ndarray(e.tensor_proto)
            check(got.shape == (), f"text {tag}@{step}: shape {got.shape}, expected scalar")
            check(got.item().decode("utf-8") == text, f"text {tag}@{step}: {got.item()!r}, expected {text!r}")
            plugin = ea.SummaryMetadata(tag).plugin_data.plugin_name
            check(plugin == "text", f"text {tag}: plugin {plugin!r}")

    # The plugin accumulator (TensorBoard's server-side Python loader) stores everything as
    # tensors, converting scalars and histograms on the way.
    pea = pea_mod.EventAccumulator(args.file, size_guidance=everything,
                                   tensor_size_guidance={"scalars": 0, "histograms": 0, "text": 0})
    pea.Reload()
    for plugin, wanted in [("scalars", args.scalar), ("histograms", args.histogram), ("text", args.text)]:
        got = sorted(pea.PluginTagToContent(plugin)) if wanted else []
        expected = sorted({t for t, _, _ in wanted})
        check(got == expected, f"plugin {plugin}: tags {got}, expected {expected}")
    for tag, step, value in args.scalar:
        e = at_step(pea.Tensors(tag), int(step), f"plugin scalar {tag}")
        if e:
            v = float(tensor_util.make_ndarray(e.tensor_proto))
            check(close(v, float(value)), f"plugin scalar {tag}@{step}: {v}, expected {value}")
    for tag, step, num in args.histogram:
        e = at_step(pea.Tensors(tag), int(step), f"plugin histogram {tag}")
        if e:
            buckets = tensor_util.make_ndarray(e.tensor_proto)  # rows of [left, right, count]
            check(buckets.ndim == 2 and buckets.shape[1] == 3, f"plugin histogram {tag}: shape {buckets.shape}")
            check(float(buckets[:, 2].sum()) == float(num), f"plugin histogram {tag}@{step}: total {buckets[:, 2].sum()}")
            check(bool((buckets[:, 0] <= buckets[:, 1]).all()), f"plugin histogram {tag}@{step}: backwards bucket {buckets}")
    for tag, step, text in args.text:
        e = at_step(pea.Tensors(tag), int(step), f"plugin text {tag}")
        if e:
            got = tensor_util.make_ndarray(e.tensor_proto).item().decode("utf-8")
            check(got == text, f"plugin text {tag}@{step}: {got!r}")

    n = len(args.scalar) + len(args.histogram) + len(args.text)
    print(f"tensorboard read {args.file}: {n} expectations checked "
          f"(scalars {tags['scalars']}, histograms {tags['histograms']}, tensors {tags['tensors']})")


if __name__ == "__main__":
    main()
    for w in warnings:
        print(f"tensorboard warning: {w}", file=sys.stderr)
        errors.append(f"tensorboard logged a warning: {w}")
    for e in errors:
        print(f"MISMATCH: {e}", file=sys.stderr)
    sys.exit(1 if errors else 0)
