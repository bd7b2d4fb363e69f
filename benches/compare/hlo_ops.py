"""What an XLA:CPU step executes, from its optimized HLO dump: per kind of op, how many run per
step (loop bodies times their known trip counts), the bytes they read and write (outputs plus
operands, an upper bound of their memory traffic) and their matmul FLOPs; and the step's
distinct matmuls with their counts.

    XLA_FLAGS="--xla_dump_to=DIR --xla_dump_hlo_as_text --xla_dump_hlo_pass_re=NONE" \\
        ouro bench --config ... --warmup 1 --windows 1 --steps 1
    python3 benches/compare/hlo_ops.py DIR/module_*.train_step.cpu_after_optimizations.txt

Library fusions are named by library and content (`ynn:dot`, `dnn:dot`, `ynn:multiply+reduce`),
XLA's own fusions by their name without the number (`loop:multiply_convert_fusion`).
"""

import argparse
import collections
import re

BYTES = {"pred": 1, "s8": 1, "u8": 1, "bf16": 2, "f16": 2, "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8}
ARRAY = re.compile(r"(pred|s8|u8|bf16|f16|s32|u32|f32|s64|u64|f64)\[([0-9,]*)\]")
HEADER = re.compile(r"^(ENTRY )?%?([\w.\-]+) \((.*)\) -> .* \{$")
INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = (.*?) ([\w\-]+)\((.*?)\)(.*)$")
SKIPPED = {"parameter", "constant", "get-tuple-element", "tuple", "bitcast"}


def dims(shape):
    match = ARRAY.search(shape)
    return [int(d) for d in match.group(2).split(",") if d] if match else []


def nbytes(shape):
    total = 0
    for dtype, ds in ARRAY.findall(shape):
        n = 1
        for d in ds.split(","):
            n *= int(d) if d else 1
        total += n * BYTES[dtype]
    return total


def tuple_element(shape, k):
    """The `k`-th element of a tuple shape's text."""
    body = re.sub(r"/\*[^*]*\*/", "", shape).strip()[1:-1]
    depth, parts, current = 0, [], ""
    for ch in body:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return (parts + [current])[k]


class Module:
    def __init__(self, text):
        self.computations, self.shapes, self.entry = {}, {}, None
        current = None
        for line in text.split("\n"):
            header = HEADER.match(line)
            if header:
                current = header.group(2)
                self.computations[current] = []
                self.entry = current if header.group(1) else self.entry
                for param in re.finditer(r"([\w.\-]+): (\w+\[[0-9,]*\])", header.group(3)):
                    self.shapes[(current, param.group(1))] = param.group(2)
            elif line.startswith("}"):
                current = None
            elif current:
                m = INSTRUCTION.match(line)
                if m:
                    name, shape, op, args, rest = m.groups()
                    operands = re.findall(r"%([\w.\-#]+)", args)
                    self.computations[current].append((name, shape, op, operands, rest))
                    self.shapes[(current, name)] = shape

    def shape(self, computation, operand):
        if "#" in operand:  # `%tuple#k`: element k of a tuple
            base, k = operand.split("#")
            return tuple_element(self.shapes.get((computation, base), "()"), int(k))
        return self.shapes.get((computation, operand), "")

    def dot_flops(self, computation, operands, shape, rest):
        lhs = dims(self.shape(computation, operands[0]))
        contracted = re.search(r"lhs_contracting_dims=\{([0-9,]*)\}", rest).group(1)
        k = 1
        for d in filter(None, contracted.split(",")):
            k *= lhs[int(d)]
        out = 1
        for d in dims(shape):
            out *= d
        return 2.0 * out * k

    def kind(self, name, op, rest, callee):
        if op != "fusion":
            return op
        if "__ynn_fusion" in rest or "__onednn_fusion" in rest:
            library = "dnn" if "__onednn_fusion" in rest else "ynn"
            inner = {i[2] for i in self.computations[callee]} - {"parameter"}
            return f"{library}:" + ("dot" if "dot" in inner else "+".join(sorted(inner)))
        return "loop:" + re.sub(r"\.\d+$", "", name)

    def walk(self, computation, times, per_kind, dots):
        for name, shape, op, operands, rest in self.computations[computation]:
            if op in SKIPPED:
                continue
            if op == "while":
                body = re.search(r"body=%?([\w.\-]+)", rest).group(1)
                trips = re.search(r'known_trip_count":\{"n":"(\d+)"', rest)
                if not trips:
                    raise SystemExit(f"{name}: a while loop without a known trip count")
                self.walk(body, times * int(trips.group(1)), per_kind, dots)
                continue
            if op in ("call", "conditional"):
                for callee in re.findall(r"(?:to_apply|calls|branch_computations)=\{?%?([\w.\-]+)", rest):
                    self.walk(callee, times, per_kind, dots)
                continue
            callee = re.search(r"calls=%?([\w.\-]+)", rest)
            callee = callee.group(1) if callee else None
            flops = 0.0
            inner = [(computation, name, shape, op, operands, rest)]
            if callee:
                inner = [(callee,) + i for i in self.computations[callee]]
            for c, _, s, o, ops, r in inner:
                if o == "dot":
                    flops += self.dot_flops(c, ops, s, r)
                    signature = " x ".join(self.shape(c, x).split("{")[0] for x in ops) + " -> " + s.split("{")[0]
                    lc, rc = (re.search(rf"{side}_contracting_dims=(\{{[0-9,]*\}})", r).group(1) for side in ("lhs", "rhs"))
                    signature += f", contracting {lc} x {rc}"
                    dots[signature] += times
            moved = nbytes(shape) + sum(nbytes(self.shape(computation, x)) for x in operands)
            entry = per_kind[self.kind(name, op, rest, callee)]
            entry[0] += times
            entry[1] += moved * times
            entry[2] += flops * times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dump", help="an *after_optimizations.txt HLO dump")
    parser.add_argument("--top", type=int, default=30, help="kinds of op to print (default 30)")
    args = parser.parse_args()
    module = Module(open(args.dump).read())
    if module.entry is None:
        raise SystemExit(f"{args.dump}: no ENTRY computation (is it an HLO text dump?)")
    per_kind, dots = collections.defaultdict(lambda: [0, 0, 0.0]), collections.Counter()
    module.walk(module.entry, 1, per_kind, dots)
    total_bytes = sum(v[1] for v in per_kind.values())
    total_flops = sum(v[2] for v in per_kind.values())
    print(f"per step: {total_bytes / 1e9:.2f} GB read and written, {total_flops / 1e9:.1f} GFLOP of matmuls")
    print(f"{'runs':>6} {'GB':>8} {'GFLOP':>8}  kind")
    for kind, (runs, moved, flops) in sorted(per_kind.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"{runs:6d} {moved / 1e9:8.3f} {flops / 1e9:8.1f}  {kind}")
    print(f"\n{'runs':>6}  matmul")
    for signature, runs in dots.most_common():
        print(f"{runs:6d}  {signature}")


if __name__ == "__main__":
    main()
