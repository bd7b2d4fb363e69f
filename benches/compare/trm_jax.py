#!/usr/bin/env python3
"""A plain-JAX reference of ouro's TRM train step, for throughput comparisons.

It computes what `crates/train/src/step.rs::train_step` computes, op for op where it matters
for cost: the ACT reset of halted slots, one ACT step (`H_cycles - 1` cycles without gradient
as a `while` loop whose `L_cycles` loop is a `while` too, then one cycle with gradient,
unrolled), the heads, the ACT loss head (stablemax cross-entropy in f32, q-halt BCE), the
gradient of `loss / global_batch` with respect to the dense parameters and the gathered
puzzle-embedding rows, AdamATan2 on f32 master weights, the EMA, sparse sign-SGD on the
puzzle table, the finiteness guards, the carry update and the metrics vector.

Subcommands:
  bench   time the jitted step (state donated) on one synthetic batch; prints one JSON line
  export  write DIR/step.mlir (StableHLO text of the jitted, donating step) and
          DIR/args.safetensors (its initial arguments, `arg0`, `arg1`, ... in @main's order)

Only jax, jax.numpy and jax.lax are used (no flax/optax).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import statistics
import struct
import sys
import time

import numpy as np

import jax
import jax.numpy as jnp
from jax import lax

from trm_flags import add_config_flags

F32 = jnp.float32
I32 = jnp.int32
IGNORE_LABEL_ID = -100


# ----------------------------------------------------------------------------------------------
# Configuration (mirrors ouro's TrmConfig / TrainConfig defaults and `ouro bench`'s StepConfig)
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    hidden_size: int = 64
    num_heads: int = 4
    expansion: float = 2.0
    l_layers: int = 2
    h_cycles: int = 2
    l_cycles: int = 2
    puzzle_emb_len: int = 1
    puzzle_emb_ndim: int | None = None  # None: hidden_size (ouro's default)
    mlp_t: bool = False
    pos_encodings: str = "rope"
    forward_dtype: str = "float32"
    halt_max_steps: int = 4
    halt_exploration_prob: float = 0.1
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    batch: int = 64
    seq_len: int = 16
    vocab_size: int = 6
    num_puzzle_ids: int = 1
    seed: int = 0
    # Optimisation (ouro's train.rs bench config and TrainConfig defaults; `ouro bench` uses
    # total_steps = 1_000_000).
    lr: float = 1e-3
    weight_decay: float = 0.1
    puzzle_emb_lr: float = 1e-2
    puzzle_emb_weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    lr_warmup_steps: int = 2000
    lr_min_ratio: float = 1.0
    total_steps: int = 1_000_000
    ema_rate: float | None = 0.999

    @property
    def dtype(self):
        return {"float32": jnp.float32, "bfloat16": jnp.bfloat16}[self.forward_dtype]

    @property
    def ndim(self) -> int:
        return self.hidden_size if self.puzzle_emb_ndim is None else self.puzzle_emb_ndim

    @property
    def prefix(self) -> int:
        if self.puzzle_emb_len == 0:
            return -(-self.ndim // self.hidden_size)
        return self.puzzle_emb_len

    @property
    def positions(self) -> int:
        return self.seq_len + self.prefix

    @property
    def head_dim(self) -> int:
        return self.hidden_size // max(self.num_heads, 1)

    @property
    def use_rope(self) -> bool:
        return (not self.mlp_t) and self.pos_encodings == "rope"


def swiglu_intermediate(hidden: int, expansion: float) -> int:
    """`round(E*h*2/3)` (ties to even, as Python's round) rounded up to a multiple of 256."""
    raw = round(expansion * hidden * 2.0 / 3.0)
    return -(-raw // 256) * 256


# ----------------------------------------------------------------------------------------------
# Parameters: ouro's param_specs order, roles and official initialisation
# ----------------------------------------------------------------------------------------------

TRAINABLE, PUZZLE_TABLE, FIXED = "trainable", "puzzle_table", "fixed"


@dataclasses.dataclass(frozen=True)
class Spec:
    name: str
    shape: tuple
    dtype: object
    role: str
    init: tuple  # ("trunc", std) | ("const", value)


def param_specs(cfg: Config) -> list[Spec]:
    d, v, t = cfg.hidden_size, cfg.vocab_size, cfg.positions
    lecun = lambda fan_in: ("trunc", 1.0 / math.sqrt(fan_in))  # noqa: E731
    s = []
    s.append(Spec("inner.embed_tokens.embedding_weight", (v, d), F32, TRAINABLE, lecun(d)))
    s.append(Spec("inner.lm_head.weight", (v, d), F32, TRAINABLE, lecun(d)))
    s.append(Spec("inner.q_head.weight", (2, d), F32, TRAINABLE, ("const", 0.0)))
    s.append(Spec("inner.q_head.bias", (2,), F32, TRAINABLE, ("const", -5.0)))
    if cfg.ndim > 0:
        s.append(Spec("inner.puzzle_emb.weights", (cfg.num_puzzle_ids, cfg.ndim), F32, PUZZLE_TABLE, ("const", 0.0)))
    if cfg.pos_encodings == "learned":
        s.append(Spec("inner.embed_pos.embedding_weight", (t, d), F32, TRAINABLE, lecun(d)))
    inter = swiglu_intermediate(d, cfg.expansion)
    for i in range(cfg.l_layers):
        b = f"inner.L_level.layers.{i}"
        if cfg.mlp_t:
            it = swiglu_intermediate(t, cfg.expansion)
            s.append(Spec(f"{b}.mlp_t.gate_up_proj.weight", (2 * it, t), F32, TRAINABLE, lecun(t)))
            s.append(Spec(f"{b}.mlp_t.down_proj.weight", (t, it), F32, TRAINABLE, lecun(it)))
        else:
            s.append(Spec(f"{b}.self_attn.qkv_proj.weight", (3 * d, d), F32, TRAINABLE, lecun(d)))
            s.append(Spec(f"{b}.self_attn.o_proj.weight", (d, d), F32, TRAINABLE, lecun(d)))
        s.append(Spec(f"{b}.mlp.gate_up_proj.weight", (2 * inter, d), F32, TRAINABLE, lecun(d)))
        s.append(Spec(f"{b}.mlp.down_proj.weight", (d, inter), F32, TRAINABLE, lecun(inter)))
    s.append(Spec("inner.H_init", (d,), cfg.dtype, FIXED, ("trunc", 1.0)))
    s.append(Spec("inner.L_init", (d,), cfg.dtype, FIXED, ("trunc", 1.0)))
    return s


def truncation_factor() -> float:
    """1/std of a standard normal truncated at +-2 (the official trunc_normal_init_ constant)."""
    lower, upper = -2.0, 2.0
    z = (math.erf(upper / math.sqrt(2)) - math.erf(lower / math.sqrt(2))) / 2.0
    c = (2.0 * math.pi) ** -0.5
    pdf_u, pdf_l = c * math.exp(-0.5 * lower * lower), c * math.exp(-0.5 * upper * upper)
    return 1.0 / math.sqrt(1.0 - (upper * pdf_u - lower * pdf_l) / z - ((pdf_u - pdf_l) / z) ** 2)


def seed_key(seed: int):
    return jnp.array([(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF], dtype=jnp.uint32)


def init_weights(specs: list[Spec], key) -> dict:
    factor = truncation_factor()
    out = {}
    for i, s in enumerate(specs):
        kind, value = s.init
        if kind == "const":
            out[s.name] = jnp.full(s.shape, value, s.dtype)
        elif value == 0.0:
            out[s.name] = jnp.zeros(s.shape, s.dtype)
        else:
            k = jax.random.fold_in(key, i)
            w = jax.random.truncated_normal(k, -2.0, 2.0, s.shape, F32) * (value * factor)
            out[s.name] = w.astype(s.dtype)
    return out


# ----------------------------------------------------------------------------------------------
# Layers (crates/nn/src/layers): fp32 weights cast to the activations' dtype at each use
# ----------------------------------------------------------------------------------------------


def linear(x, w, b=None):
    """`x . W^T (+ b)`, W: [out, in] f32 cast to x's dtype."""
    y = lax.dot_general(x, w.astype(x.dtype), (((x.ndim - 1,), (1,)), ((), ())))
    return y if b is None else y + b.astype(x.dtype)


def row_gather(table, ids):
    """Rows of `table: [N, W]` at integer `ids: [...]`: one plain gather (clamping, like ouro's)."""
    ids = ids.astype(I32)
    dims = lax.GatherDimensionNumbers(offset_dims=(ids.ndim,), collapsed_slice_dims=(0,), start_index_map=(0,))
    return lax.gather(
        table, ids[..., None], dims, slice_sizes=(1, table.shape[1]), mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS
    )


def embedding(table, ids, dtype):
    return row_gather(table.astype(dtype), ids)


def rms_norm(x, eps):
    h = x.astype(F32)
    variance = jnp.sum(h * h, axis=-1, keepdims=True) / h.shape[-1]
    return (h * lax.rsqrt(variance + eps)).astype(x.dtype)


def silu(x):
    return x * jax.nn.sigmoid(x)


def swiglu(x, gate_up_w, down_w):
    gate_up = linear(x, gate_up_w)
    inter = gate_up.shape[-1] // 2
    return linear(silu(gate_up[..., :inter]) * gate_up[..., inter:], down_w)


def rope_tables(cfg: Config):
    dim, half = cfg.head_dim, cfg.head_dim // 2
    inv_freq = 1.0 / (np.float32(cfg.rope_theta) ** (np.arange(0, half, dtype=np.float32) * 2 / np.float32(dim)))
    t = np.arange(cfg.positions, dtype=np.float32)
    freqs = np.outer(t, inv_freq.astype(np.float32)).astype(np.float32)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)


def apply_rope(x, cos, sin):
    """`x*cos + rotate_half(x)*sin` on `x: [B, T, H, hd]` in f32, cast back."""
    hd = x.shape[3]
    h = x.astype(F32)
    rotated = jnp.concatenate([-h[..., hd // 2 :], h[..., : hd // 2]], axis=3)
    c = jnp.asarray(cos)[None, : x.shape[1], None, :]
    s = jnp.asarray(sin)[None, : x.shape[1], None, :]
    return (h * c + rotated * s).astype(x.dtype)


def softmax(x, axis):
    m = lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    e = jnp.exp(x - m)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def attention(x, qkv_w, o_w, num_heads, rope):
    dtype = x.dtype
    b, t, d = x.shape
    hd = d // num_heads
    qkv = linear(x, qkv_w).reshape(b, t, 3 * num_heads, hd)
    q, k, v = qkv[:, :, :num_heads], qkv[:, :, num_heads : 2 * num_heads], qkv[:, :, 2 * num_heads :]
    if rope is not None:
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
    # scores[b, h, i, j] = sum_d q[b, i, h, d] k[b, j, h, d], accumulated in f32
    scores = lax.dot_general(q, k, (((3,), (3,)), ((0, 2), (0, 2))), preferred_element_type=F32)
    scores = scores * F32(1.0 / math.sqrt(hd))
    probs = softmax(scores, 3).astype(dtype)
    # out[b, h, i, d] = sum_j probs[b, h, i, j] v[b, j, h, d]
    out = lax.dot_general(probs, v, (((3,), (1,)), ((0, 1), (0, 2))), preferred_element_type=F32)
    merged = out.astype(dtype).transpose(0, 2, 1, 3).reshape(b, t, d)
    return linear(merged, o_w)


# ----------------------------------------------------------------------------------------------
# The inner model (crates/nn/src/trm.rs)
# ----------------------------------------------------------------------------------------------


class Trm:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.rope = rope_tables(cfg) if cfg.use_rope else None

    def input_embeddings(self, p, inputs, puzzle_rows):
        cfg, dtype = self.cfg, self.cfg.dtype
        d, b = cfg.hidden_size, inputs.shape[0]
        x = embedding(p["inner.embed_tokens.embedding_weight"], inputs, dtype)
        if puzzle_rows is not None:
            pad = cfg.prefix * d - puzzle_rows.shape[1]
            rows = jnp.pad(puzzle_rows.astype(dtype), ((0, 0), (0, pad))).reshape(b, cfg.prefix, d)
            x = jnp.concatenate([rows, x], axis=1)
        if cfg.pos_encodings == "learned":
            pos = p["inner.embed_pos.embedding_weight"].astype(dtype)
            x = ((x + pos).astype(F32) * F32(0.707106781)).astype(dtype)
        return (x.astype(F32) * F32(math.sqrt(d))).astype(dtype)

    def block(self, p, layer, h):
        cfg = self.cfg
        w = lambda name: p[f"inner.L_level.layers.{layer}.{name}"]  # noqa: E731
        if cfg.mlp_t:
            u = h.transpose(0, 2, 1)
            mixed = swiglu(u, w("mlp_t.gate_up_proj.weight"), w("mlp_t.down_proj.weight"))
            h = rms_norm(u + mixed, cfg.rms_norm_eps).transpose(0, 2, 1)
        else:
            a = attention(h, w("self_attn.qkv_proj.weight"), w("self_attn.o_proj.weight"), cfg.num_heads, self.rope)
            h = rms_norm(h + a, cfg.rms_norm_eps)
        return rms_norm(h + swiglu(h, w("mlp.gate_up_proj.weight"), w("mlp.down_proj.weight")), cfg.rms_norm_eps)

    def l_level(self, p, z, injection):
        h = z + injection
        for layer in range(self.cfg.l_layers):
            h = self.block(p, layer, h)
        return h

    def h_cycle(self, p, z_h, z_l, x, looped):
        injection = z_h + x
        if looped:
            z_l = lax.fori_loop(0, self.cfg.l_cycles, lambda _, z: self.l_level(p, z, injection), z_l)
        else:
            for _ in range(self.cfg.l_cycles):
                z_l = self.l_level(p, z_l, injection)
        return self.l_level(p, z_h, z_l), z_l

    def forward(self, p, z_h, z_l, inputs, puzzle_rows):
        cfg = self.cfg
        x = self.input_embeddings(p, inputs, puzzle_rows)
        if cfg.h_cycles > 1:
            # The cycles without gradient: everything they read is a constant for the gradient,
            # and they are a `while` loop (each with a `while` over L_cycles inside), as in ouro.
            frozen = {k: lax.stop_gradient(v) for k, v in p.items()}
            xf = lax.stop_gradient(x)

            def body(_, c):
                return self.h_cycle(frozen, c[0], c[1], xf, True)

            z_h, z_l = lax.fori_loop(0, cfg.h_cycles - 1, body, (z_h, z_l))
            z_h, z_l = lax.stop_gradient(z_h), lax.stop_gradient(z_l)
        z_h, z_l = self.h_cycle(p, z_h, z_l, x, False)  # the cycle with gradient, unrolled
        logits = linear(z_h, p["inner.lm_head.weight"])[:, cfg.prefix : cfg.positions]
        first = z_h[:, 0:1].reshape(z_h.shape[0], cfg.hidden_size)
        q = linear(first, p["inner.q_head.weight"], p["inner.q_head.bias"]).astype(F32)
        return lax.stop_gradient(z_h), lax.stop_gradient(z_l), logits, q[:, 0], q[:, 1]


# ----------------------------------------------------------------------------------------------
# ACT (crates/nn/src/act.rs) and the loss head (crates/nn/src/loss.rs)
# ----------------------------------------------------------------------------------------------

CARRY_FIELDS = ("z_h", "z_l", "steps", "halted", "inputs", "labels", "puzzle_ids")


def exploration(cfg: Config, key, batch, probability):
    """With probability `probability` a slot must run at least U{2..halt_max_steps} steps."""
    keys = jax.random.split(key, 2)
    explore = jax.random.uniform(keys[0], (batch,), F32) < probability
    span = max(cfg.halt_max_steps + 1 - 2, 1)
    r = (jax.random.bits(keys[1], (batch,), jnp.uint32) % jnp.uint32(span)).astype(I32) + 2
    return jnp.where(explore, r, 0)


def reset(carry, batch, h_init, l_init):
    halted = carry["halted"]

    def rows(old, new):
        mask = halted.reshape((-1,) + (1,) * (old.ndim - 1))
        return jnp.where(mask, new, old)

    shape = carry["z_h"].shape
    return {
        "z_h": rows(carry["z_h"], jnp.broadcast_to(h_init, shape)),
        "z_l": rows(carry["z_l"], jnp.broadcast_to(l_init, shape)),
        "steps": jnp.where(halted, 0, carry["steps"]),
        "halted": halted,
        "inputs": rows(carry["inputs"], batch["inputs"]),
        "labels": rows(carry["labels"], batch["labels"]),
        "puzzle_ids": rows(carry["puzzle_ids"], batch["puzzle_ids"]),
    }


def act_step(model: Trm, p, carry, puzzle_rows, min_steps):
    cfg = model.cfg
    z_h, z_l, logits, q_halt, q_continue = model.forward(p, carry["z_h"], carry["z_l"], carry["inputs"], puzzle_rows)
    steps = carry["steps"] + 1
    is_last = steps >= cfg.halt_max_steps
    halted = is_last
    if cfg.halt_max_steps > 1:
        # no_ACT_continue (the official default): halt on q_halt > 0, never before min_steps.
        halted = (halted | (q_halt > 0)) & (steps >= min_steps)
    new = dict(carry, z_h=z_h, z_l=z_l, steps=steps, halted=halted)
    return new, logits, q_halt, q_continue


def log_stablemax(x, axis):
    negative = jnp.minimum(x, 0.0)
    s = jnp.where(x < 0, 1.0 / (1.0 - negative + F32(1e-30)), x + 1.0)
    return jnp.log(s / jnp.sum(s, axis=axis, keepdims=True))


def argmax_first(x, axis):
    """ouro's composite argmax: the first maximum (NaN counts as the maximum), as i32."""
    m = jnp.max(x, axis=axis, keepdims=True)
    is_max = (x == m) | (x != x)
    index = lax.broadcasted_iota(I32, x.shape, axis)
    return jnp.min(jnp.where(is_max, index, x.shape[axis]), axis=axis)


def bce_with_logits_sum(x, z):
    return jnp.sum(jnp.maximum(x, 0.0) - x * z + jnp.log1p(jnp.exp(-jnp.abs(x))))


def act_loss(carry, logits, q_halt, q_continue):
    labels = carry["labels"]
    mask = labels != IGNORE_LABEL_ID
    counts = jnp.sum(mask.astype(I32), axis=1)
    divisor = jnp.maximum(counts, 1)
    preds = argmax_first(logits, 2)
    is_correct = mask & (preds == labels)
    seq_correct = jnp.sum(is_correct.astype(I32), axis=1) == counts
    valid = carry["halted"] & (counts > 0)

    x = logits.astype(F32)  # stablemax cross-entropy in f32
    vocab = x.shape[-1]
    log_probs = log_stablemax(x, 2)
    targets = jnp.where(mask, labels, 0)
    one_hot = (lax.broadcasted_iota(labels.dtype, x.shape, 2) == targets[..., None]).astype(F32)
    per_token = jnp.where(mask, -jnp.sum(log_probs * one_hot, axis=2), 0.0)
    del vocab
    lm_loss = jnp.sum(jnp.sum(per_token, axis=1) / divisor.astype(F32))
    q_halt_loss = bce_with_logits_sum(q_halt, seq_correct.astype(F32))
    q_continue_loss = jnp.zeros((), F32)  # no_ACT_continue
    total = lm_loss + ((q_halt_loss + q_continue_loss) * 0.5).astype(F32)

    f = lambda t: t.astype(F32)  # noqa: E731
    count_of = lambda flags: f(jnp.sum(flags.astype(I32)))  # noqa: E731
    token_accuracy = f(jnp.sum(is_correct.astype(I32), axis=1)) / f(divisor)
    metrics = jnp.stack(
        [
            count_of(valid),
            jnp.sum(jnp.where(valid, token_accuracy, 0.0)),
            count_of(valid & seq_correct),
            count_of(valid & ((q_halt >= 0) == seq_correct)),
            f(jnp.sum(jnp.where(valid, carry["steps"], 0))),
            f(lm_loss),
            q_halt_loss,
            q_continue_loss,
        ]
    )
    return total, lax.stop_gradient(metrics)


# ----------------------------------------------------------------------------------------------
# Optimizers (crates/optim/src)
# ----------------------------------------------------------------------------------------------


def lr_at(base, cfg: Config, step):
    """Linear warm-up then half a cosine to base*min_ratio (1-based f32 step)."""
    warm = step * F32(base / max(cfg.lr_warmup_steps, 1))
    span = float(max(cfg.total_steps - cfg.lr_warmup_steps, 1))
    progress = (step - F32(cfg.lr_warmup_steps)) / F32(span)
    cosine = (jnp.cos(progress * F32(math.pi)) + 1.0) * F32((1.0 - cfg.lr_min_ratio) * 0.5)
    decayed = (jnp.maximum(cosine, 0.0) + F32(cfg.lr_min_ratio)) * F32(base)
    return jnp.where(step < cfg.lr_warmup_steps, warm, decayed)


def adam_atan2(cfg: Config, p, g, m, v, lr, t):
    m = m * F32(cfg.beta1) + g * F32(1.0 - cfg.beta1)
    v = v * F32(cfg.beta2) + jnp.square(g) * F32(1.0 - cfg.beta2)
    decayed = p * (1.0 - lr * F32(cfg.weight_decay))
    step_size = lr / (1.0 - jnp.power(F32(cfg.beta1), t))
    root_v = jnp.sqrt(v) / jnp.sqrt(1.0 - jnp.power(F32(cfg.beta2), t))
    return decayed - jnp.arctan2(m, root_v) * step_size, m, v


def sparse_sign_sgd(table, ids, row_grads, lr, weight_decay):
    """Rows with the same id have their gradients summed (a [B, B] equality matmul); only the
    rows in the batch change: w <- w*(1 - lr*wd) - lr*sign(sum g)."""
    b, d = ids.shape[0], table.shape[1]
    same = (ids[:, None] == ids[None, :]).astype(F32)
    summed = lax.dot_general(same, row_grads.astype(F32), (((1,), (0,)), ((), ())))
    rows = row_gather(table, ids)
    updated = rows * (1.0 - lr * F32(weight_decay)) - jnp.sign(summed) * lr
    dims = lax.ScatterDimensionNumbers(
        update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    del b, d
    return lax.scatter(table, ids.reshape(-1, 1), updated, dims, mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS)


def all_finite(values):
    ok = jnp.array(True)
    for v in values:
        ok = ok & jnp.all(jnp.isfinite(v))
    return ok


# ----------------------------------------------------------------------------------------------
# The train step (crates/train/src/step.rs::train_step)
# ----------------------------------------------------------------------------------------------


class Step:
    """state = (params[], adam_m[], adam_v[], ema[], puzzle_emb, carry(7), step, healthy) --
    the order of ouro's donated state; consts = (H_init, L_init, key); batch = (inputs, labels,
    puzzle_ids)."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.model = Trm(cfg)
        self.specs = param_specs(cfg)
        self.dense = [s for s in self.specs if s.role == TRAINABLE]
        self.table_spec = next((s for s in self.specs if s.role == PUZZLE_TABLE), None)

    # -- state ----------------------------------------------------------------------------------

    def init(self):
        cfg = self.cfg
        key = seed_key(cfg.seed)
        w = jax.jit(lambda k: init_weights(self.specs, k))(key)
        params = [w[s.name] for s in self.dense]
        zeros = [jnp.zeros(s.shape, F32) for s in self.dense]
        ema = [p + 0.0 for p in params] if cfg.ema_rate is not None else []
        table = w[self.table_spec.name] if self.table_spec else None
        b, t, d = cfg.batch, cfg.positions, cfg.hidden_size
        carry = (
            jnp.zeros((b, t, d), cfg.dtype),
            jnp.zeros((b, t, d), cfg.dtype),
            jnp.zeros((b,), I32),
            jnp.ones((b,), jnp.bool_),
            jnp.zeros((b, cfg.seq_len), I32),
            jnp.zeros((b, cfg.seq_len), I32),
            jnp.zeros((b,), I32),
        )
        state = (params, list(zeros), [z + 0.0 for z in zeros], ema, table, carry, jnp.zeros((), I32), jnp.array(True))
        consts = (w["inner.H_init"], w["inner.L_init"], key)
        return state, consts

    def synthetic_batch(self):
        cfg = self.cfg
        rng = np.random.default_rng(cfg.seed)
        shape = (cfg.batch, cfg.seq_len)
        return (
            jnp.asarray(rng.integers(1, max(cfg.vocab_size, 2), shape, dtype=np.int32)),
            jnp.asarray(rng.integers(1, max(cfg.vocab_size, 2), shape, dtype=np.int32)),
            jnp.asarray(rng.integers(0, max(cfg.num_puzzle_ids, 1), (cfg.batch,), dtype=np.int32)),
        )

    def state_names(self):
        names = [f"params/{s.name}" for s in self.dense]
        names += [f"adam/m/{s.name}" for s in self.dense] + [f"adam/v/{s.name}" for s in self.dense]
        if self.cfg.ema_rate is not None:
            names += [f"ema/{s.name}" for s in self.dense]
        if self.table_spec:
            names.append("puzzle_emb")
        names += [f"carry/{f}" for f in CARRY_FIELDS] + ["step", "healthy"]
        names += ["fixed/inner.H_init", "fixed/inner.L_init", "key", "batch/inputs", "batch/labels", "batch/puzzle_ids"]
        return names

    # -- the step -------------------------------------------------------------------------------

    def __call__(self, state, consts, batch):
        cfg, model = self.cfg, self.model
        params, m, v, ema, table, carry_t, step, healthy = state
        h_init, l_init, key = consts
        carry = dict(zip(CARRY_FIELDS, carry_t))
        batch_d = {"inputs": batch[0], "labels": batch[1], "puzzle_ids": batch[2]}
        names = [s.name for s in self.dense]

        new_step = step + 1
        t = new_step.astype(F32)
        step_key = jax.random.fold_in(key, new_step.astype(jnp.uint32))
        min_steps = exploration(cfg, step_key, cfg.batch, F32(cfg.halt_exploration_prob))

        # Reset halted slots; gather the puzzle rows outside the differentiated function (their
        # gradient is what sparse sign-SGD uses, as the official `local_weights`).
        reset_c = reset(carry, batch_d, h_init, l_init)
        rows = row_gather(table, reset_c["puzzle_ids"]) if table is not None else None

        def loss_fn(dense, rows):
            p = dict(zip(names, dense))
            p["inner.H_init"], p["inner.L_init"] = h_init, l_init
            new_carry, logits, q_halt, q_continue = act_step(model, p, reset_c, rows, min_steps)
            total, metrics = act_loss(new_carry, logits, q_halt, q_continue)
            return total / F32(cfg.batch), (total, metrics, new_carry)

        (_, (total, loss_metrics, new_carry)), (grads, row_grads) = jax.value_and_grad(
            loss_fn, argnums=(0, 1), has_aux=True
        )(params, rows)

        checked = list(grads) + ([row_grads] if row_grads is not None else [])
        grads_finite = all_finite(checked)
        loss_finite = all_finite([total])
        active = new_step <= cfg.total_steps
        finite = loss_finite & grads_finite
        advance = healthy & finite & active
        update = advance & grads_finite
        keep = lambda new, old: jnp.where(update, new, old)  # noqa: E731

        lr = lr_at(cfg.lr, cfg, t)
        new_p, new_m, new_v = [], [], []
        for p_, g, m_, v_ in zip(params, grads, m, v):
            p2, m2, v2 = adam_atan2(cfg, p_, g, m_, v_, lr, t)
            new_p.append(keep(p2, p_))
            new_m.append(keep(m2, m_))
            new_v.append(keep(v2, v_))
        new_ema = []
        if cfg.ema_rate is not None:
            moves = healthy & finite
            r = cfg.ema_rate
            for shadow, p_ in zip(ema, new_p):
                new_ema.append(jnp.where(moves, p_ * F32(1.0 - r) + shadow * F32(r), shadow))
        new_table = None
        if table is not None:
            lr_puzzle = lr_at(cfg.puzzle_emb_lr, cfg, t)
            updated = sparse_sign_sgd(table, reset_c["puzzle_ids"], row_grads, lr_puzzle, cfg.puzzle_emb_weight_decay)
            new_table = keep(updated, table)
        carry_out = tuple(jnp.where(advance, new_carry[f], carry[f]) for f in CARRY_FIELDS)
        step_out = jnp.where(advance, new_step, step)

        max_steps = cfg.halt_max_steps
        k = lax.broadcasted_iota(I32, (cfg.batch, max_steps), 1) + 1
        halted_after = jnp.sum(
            ((new_carry["steps"][:, None] == k) & new_carry["halted"][:, None]).astype(F32), axis=0
        )
        metrics = jnp.concatenate(
            [loss_metrics, lr.reshape(1), halted_after, finite.astype(F32).reshape(1)]
        )
        new_state = (new_p, new_m, new_v, new_ema, new_table, carry_out, step_out, healthy & finite)
        return new_state, metrics


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def config_from(args) -> Config:
    return Config(
        hidden_size=args.hidden_size,
        num_heads=args.num_heads,
        expansion=args.expansion,
        l_layers=args.l_layers,
        h_cycles=args.h_cycles,
        l_cycles=args.l_cycles,
        puzzle_emb_len=args.puzzle_emb_len,
        mlp_t=args.mlp_t,
        pos_encodings=args.pos_encodings,
        forward_dtype=args.forward_dtype,
        halt_max_steps=args.halt_max_steps,
        batch=args.batch,
        seq_len=args.seq_len,
        vocab_size=args.vocab_size,
        num_puzzle_ids=args.num_puzzle_ids,
        seed=args.seed,
        lr=args.lr,
        weight_decay=args.weight_decay,
        puzzle_emb_lr=args.puzzle_emb_lr,
        puzzle_emb_weight_decay=args.puzzle_emb_weight_decay,
        ema_rate=None if args.no_ema else args.ema_rate,
    )


def jitted(step: Step):
    # keep_unused: every argument stays a parameter of @main, so the export's arguments line up.
    return jax.jit(step.__call__, donate_argnums=(0,), keep_unused=True)


def cmd_bench(args) -> None:
    cfg = config_from(args)
    step = Step(cfg)
    state, consts = step.init()
    batch = step.synthetic_batch()
    jax.block_until_ready((state, consts, batch))
    started = time.perf_counter()
    compiled = jitted(step).lower(state, consts, batch).compile()
    compile_seconds = time.perf_counter() - started
    metrics = None
    for _ in range(args.warmup):
        state, metrics = compiled(state, consts, batch)
    jax.block_until_ready((state, metrics))
    windows = []
    for _ in range(args.windows):
        started = time.perf_counter()
        for _ in range(args.steps):
            state, metrics = compiled(state, consts, batch)
        jax.block_until_ready((state, metrics))
        windows.append((time.perf_counter() - started) / args.steps)
    windows.sort()
    median = windows[len(windows) // 2]  # the same pick as `ouro bench`
    last = np.asarray(metrics) if metrics is not None else None
    out = {
        "impl": "jax",
        "jax_version": jax.__version__,
        "jaxlib_version": getattr(jax.lib, "__version__", None) or _jaxlib_version(),
        "platform": jax.devices()[0].platform,
        "device_kind": jax.devices()[0].device_kind,
        "rows": cfg.batch,
        "compile_seconds": compile_seconds,
        "median_step_seconds": median,
        "windows": windows,
        "examples_per_second": cfg.batch / median,
        "finite": bool(last[-1] == 1.0) if last is not None else None,
        "config": dataclasses.asdict(cfg),
    }
    print(json.dumps(out))


def _jaxlib_version():
    try:
        import jaxlib

        return jaxlib.__version__
    except Exception:  # noqa: BLE001
        return None


SAFETENSORS_DTYPES = {
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
    np.dtype(np.float16): "F16",
    np.dtype(np.int32): "I32",
    np.dtype(np.int64): "I64",
    np.dtype(np.uint32): "U32",
    np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8",
    np.dtype(np.bool_): "BOOL",
}


def safetensors_dtype(dt: np.dtype) -> str:
    if dt.name == "bfloat16":
        return "BF16"
    return SAFETENSORS_DTYPES[np.dtype(dt)]


def write_safetensors(path: str, tensors: list[tuple[str, np.ndarray]], metadata: dict | None = None) -> None:
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, arr in tensors:
        data = np.asarray(arr, order="C")  # (np.ascontiguousarray would make a scalar 1-d)
        if data.dtype.itemsize > 1 and data.dtype.byteorder == ">":
            data = data.byteswap().view(data.dtype.newbyteorder("<"))
        raw = data.tobytes()
        header[name] = {"dtype": safetensors_dtype(data.dtype), "shape": list(data.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


MLIR_TYPES = {"F32": "f32", "BF16": "bf16", "F16": "f16", "F64": "f64", "I32": "i32", "I64": "i64", "U32": "ui32", "U8": "ui8", "I8": "i8", "BOOL": "i1"}


def main_signature(text: str) -> list[tuple[str, list[int], str]]:
    """(name, shape, element type) of each parameter of `func.func public @main(`."""
    start = text.index("func.func public @main(") + len("func.func public @main(")
    depth, end = 0, None
    for i, c in enumerate(text[start:]):
        if c in "(<{[":
            depth += 1
        elif c == ")" and depth == 0:
            end = start + i
            break
        elif c in ")>}]":
            depth -= 1
    params = []
    for m in re.finditer(r"(%arg\d+): tensor<([^>]*)>", text[start:end]):
        parts = m.group(2).split("x")
        params.append((m.group(1), [int(x) for x in parts[:-1]], parts[-1]))
    return params


def cmd_export(args) -> None:
    cfg = config_from(args)
    step = Step(cfg)
    state, consts = step.init()
    batch = step.synthetic_batch()
    example = (state, consts, batch)
    lowered = jitted(step).lower(*example)
    text = lowered.as_text()
    leaves = jax.tree_util.tree_leaves(example)
    signature = main_signature(text)
    names = step.state_names()
    if len(leaves) != len(signature):
        sys.exit(f"export: {len(leaves)} flattened arguments but @main has {len(signature)} parameters")
    if len(names) != len(leaves):
        sys.exit(f"export: {len(names)} names for {len(leaves)} arguments")
    tensors = []
    for i, (leaf, (arg, shape, elem)) in enumerate(zip(leaves, signature)):
        arr = np.asarray(leaf)
        want = MLIR_TYPES[safetensors_dtype(arr.dtype)]
        if arg != f"%arg{i}" or list(arr.shape) != shape or want != elem:
            sys.exit(f"export: argument {i} ({names[i]}) is {arr.dtype}{list(arr.shape)}, @main's {arg} is {elem}{shape}")
        tensors.append((f"arg{i}", arr))
    aliased = len(re.findall(r"tf\.aliasing_output", text[: text.index("->", text.index("func.func public @main("))]))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "step.mlir"), "w") as f:
        f.write(text)
    meta = {f"arg{i}": n for i, n in enumerate(names)}
    meta["jax_version"] = jax.__version__
    meta["config"] = json.dumps(dataclasses.asdict(cfg))
    write_safetensors(os.path.join(args.out, "args.safetensors"), tensors, meta)
    # Read the header back: what ouro will see must match @main.
    with open(os.path.join(args.out, "args.safetensors"), "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    header.pop("__metadata__", None)
    for i, (_, shape, elem) in enumerate(signature):
        h = header.get(f"arg{i}")
        if h is None or h["shape"] != shape or MLIR_TYPES[h["dtype"]] != elem:
            sys.exit(f"export: args.safetensors arg{i} is {h}, @main's parameter is {elem}{shape}")
    if len(header) != len(signature):
        sys.exit(f"export: args.safetensors has {len(header)} tensors, @main {len(signature)} parameters")
    with open(os.path.join(args.out, "args.json"), "w") as f:
        json.dump([{"arg": f"arg{i}", "name": n, "dtype": str(np.asarray(l).dtype), "shape": list(np.shape(l))} for i, (n, l) in enumerate(zip(names, leaves))], f, indent=1)
    print(
        json.dumps(
            {
                "impl": "jax",
                "jax_version": jax.__version__,
                "out": args.out,
                "parameters": len(signature),
                "donated_aliased": aliased,
                "state_tensors": len(jax.tree_util.tree_leaves(state)),
                "mlir_bytes": len(text),
            }
        )
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_flags(p)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time the jitted train step; one JSON line")
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--windows", type=int, default=10)
    b.add_argument("--steps", type=int, default=5)
    e = sub.add_parser("export", help="write DIR/step.mlir and DIR/args.safetensors")
    e.add_argument("--out", required=True)
    return p


def main() -> None:
    args = parser().parse_args()
    if args.command == "bench":
        if args.windows < 1 or args.steps < 1:
            sys.exit("--windows and --steps must be at least 1")
        cmd_bench(args)
    else:
        cmd_export(args)


if __name__ == "__main__":
    main()
