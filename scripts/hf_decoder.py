#!/usr/bin/python3
"""Writes a LLaMA-style decoder in the form Hugging Face's ONNX export gives a decode step with
past caches (optimum's decoder-with-past: input_ids, attention_mask, position_ids and
past_key_values.N.key/value in; logits and present.N.key/value out), with seeded random weights
in an external-data file beside it. No download: the architecture comes from the preset, the
weights from numpy's generator. Used by scripts/onnx_import_bench.sh --hf to compare
`tierbench run --model` on such a file with the built-in LLM tier of the same architecture.

  scripts/hf_decoder.py OUT.onnx [--preset smollm-135m] [--layers N]
  tierbench run --model OUT.onnx --input input_ids=1x1 --input past_key_values.0.key=1x3x127x64
"""
import argparse
import math
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRESETS = {  # hidden, heads, kv heads, head dim, ffn, vocab, layers, rope theta (tierbench tiers)
    "smollm-135m": dict(hidden=576, heads=9, kv=3, hd=64, ffn=1536, vocab=49152, layers=30,
                        theta=1e4),
    "llama-3.2-1b": dict(hidden=2048, heads=32, kv=8, hd=64, ffn=8192, vocab=128256, layers=16,
                         theta=5e5),
}
N = helper.make_node
I64, F32 = TensorProto.INT64, TensorProto.FLOAT


class Writer:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.inits, self.nodes = [], []

    def const(self, name, a):
        self.inits.append(numpy_helper.from_array(np.asarray(a), name))
        return name

    def weight(self, name, *shape, scale=0.02, offset=0.0):
        a = (self.rng.standard_normal(shape, np.float32) * scale + offset).astype(np.float32)
        return self.const(name, a)

    def op(self, op, ins, out, **attrs):
        self.nodes.append(N(op, ins, [out], name=out, **attrs))
        return out


def rms_norm(w, x, gamma, out):  # Pow, ReduceMean, Add eps, Sqrt, Reciprocal, Mul, Mul gamma
    sq = w.op("Pow", [x, "two"], out + "/pow")
    ms = w.op("ReduceMean", [sq], out + "/mean", axes=[-1], keepdims=1)
    rs = w.op("Sqrt", [w.op("Add", [ms, "eps"], out + "/add")], out + "/sqrt")
    n = w.op("Mul", [x, w.op("Reciprocal", [rs], out + "/rcp")], out + "/mul")
    return w.op("Mul", [gamma, n], out)


def heads(w, x, hd, out):  # [b][s][h*d] -> [b][h][s][d], the target read from Shape(x)
    shp = w.op("Shape", [x], out + "/shape")
    b = w.op("Unsqueeze", [w.op("Gather", [shp, "i0"], out + "/b", axis=0), "ax0"], out + "/b1")
    s = w.op("Unsqueeze", [w.op("Gather", [shp, "i1"], out + "/s", axis=0), "ax0"], out + "/s1")
    tgt = w.op("Concat", [b, s, "minus1", w.const(out + "/hd", np.array([hd], np.int64))],
               out + "/target", axis=0)
    return w.op("Transpose", [w.op("Reshape", [x, tgt], out + "/reshape")], out, perm=[0, 2, 1, 3])


def rope(w, x, hd, out):  # x * cos + rotate_half(x) * sin
    x1 = w.op("Slice", [x, "zero1", "half1", "last1"], out + "/x1")
    x2 = w.op("Slice", [x, "half1", "big1", "last1"], out + "/x2")
    rot = w.op("Concat", [w.op("Neg", [x2], out + "/neg"), x1], out + "/rot", axis=-1)
    return w.op("Add", [w.op("Mul", [x, "cos"], out + "/c"), w.op("Mul", [rot, "sin"], out + "/s")],
                out)


def repeat_kv(w, x, c, out):  # [b][kv][t][d] -> [b][kv * rep][t][d], shapes read from Shape(x)
    shp = w.op("Shape", [x], out + "/shape")
    bkv = w.op("Slice", [shp, "zero1", "two1"], out + "/bkv")
    b = w.op("Slice", [shp, "zero1", "one1"], out + "/b")
    td = w.op("Slice", [shp, "two1", "four1"], out + "/td")
    rep = w.const(out + "/rep", np.array([c["heads"] // c["kv"]], np.int64))
    nh = w.const(out + "/heads", np.array([c["heads"]], np.int64))
    e = w.op("Expand", [w.op("Unsqueeze", [x, "ax2"], out + "/unsq"),
                        w.op("Concat", [bkv, rep, td], out + "/expand_to", axis=0)], out + "/expand")
    return w.op("Reshape", [e, w.op("Concat", [b, nh, td], out + "/to", axis=0)], out)


def build(c):
    w = Writer(20261206)
    hd = c["hd"]
    for name, v in (("two", np.float32(2)), ("eps", np.float32(1e-5)), ("i0", np.int64(0)),
                    ("i1", np.int64(1)), ("ax0", [0]), ("ax1", [1]), ("ax2", [2]), ("ax02", [0, 2]),
                    ("ax01", [0, 1]), ("ax12", [1, 2]), ("minus1", [-1]), ("zero1", [0]), ("one1", [1]), ("two1", [2]), ("four1", [4]),
                    ("half1", [hd // 2]), ("big1", [2**62]), ("last1", [-1]), ("col", [-1, 1]),
                    ("zero_i", [0]), ("sqrt_d", np.float32(math.sqrt(hd))),
                    ("lowest", np.float32(np.finfo(np.float32).min)), ("zero_f", np.float32(0))):
        w.const(name, np.asarray(v, np.int64) if isinstance(v, list) else v)
    emb = w.weight("model.embed_tokens.weight", c["vocab"], c["hidden"])
    x = w.op("Gather", [emb, "input_ids"], "/model/embed_tokens/Gather")
    # Rotary tables from position_ids: inv_freq[None, :, None] @ position_ids[:, None, :].
    inv = 1.0 / c["theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    invx = w.op("Unsqueeze", [w.const("inv_freq", inv.astype(np.float32)), "ax02"], "/rope/inv")
    pos = w.op("Cast", [w.op("Unsqueeze", ["position_ids", "ax1"], "/rope/pos")], "/rope/posf",
               to=F32)
    fr = w.op("Transpose", [w.op("MatMul", [invx, pos], "/rope/mm")], "/rope/freqs", perm=[0, 2, 1])
    emb2 = w.op("Concat", [fr, fr], "/rope/emb", axis=-1)
    w.op("Unsqueeze", [w.op("Cos", [emb2], "/rope/cos3"), "ax1"], "cos")
    w.op("Unsqueeze", [w.op("Sin", [emb2], "/rope/sin3"), "ax1"], "sin")
    # The 4-d mask: keys after the position, and padding (attention_mask == 0), to lowest.
    am_total = w.op("Gather", [w.op("Shape", ["attention_mask"], "/mask/shape"), "i1"],
                    "/mask/total", axis=0)
    ar = w.op("Range", ["i0", am_total, "i1"], "/mask/range")
    fut = w.op("Greater", [ar, w.op("Reshape", ["position_ids", "col"], "/mask/pos")], "/mask/gt")
    causal = w.op("Unsqueeze", [w.op("Where", [fut, "lowest", "zero_f"], "/mask/causal2"), "ax01"],
                  "/mask/causal")
    pad = w.op("Equal", [w.op("Unsqueeze", ["attention_mask", "ax12"], "/mask/am4"), "zero_i"],
               "/mask/pad")
    w.op("Where", [pad, "lowest", causal], "mask")
    outputs = []
    for i in range(c["layers"]):
        p = f"/model/layers.{i}"
        h = rms_norm(w, x, w.weight(f"{p}.input_layernorm.weight", c["hidden"], offset=1.0),
                     p + "/input_layernorm")
        proj = lambda nm, n: w.op("MatMul", [h, w.weight(f"{p}.self_attn.{nm}.weight",
                                                          c["hidden"], n)], f"{p}/self_attn/{nm}")
        q = rope(w, heads(w, proj("q_proj", c["heads"] * hd), hd, p + "/q"), hd, p + "/q_rope")
        k = rope(w, heads(w, proj("k_proj", c["kv"] * hd), hd, p + "/k"), hd, p + "/k_rope")
        v = heads(w, proj("v_proj", c["kv"] * hd), hd, p + "/v")
        kc = w.op("Concat", [f"past_key_values.{i}.key", k], f"present.{i}.key", axis=2)
        vc = w.op("Concat", [f"past_key_values.{i}.value", v], f"present.{i}.value", axis=2)
        outputs += [kc, vc]
        kr, vr = repeat_kv(w, kc, c, p + "/k_rep"), repeat_kv(w, vc, c, p + "/v_rep")
        kt = w.op("Transpose", [kr], p + "/kt", perm=[0, 1, 3, 2])
        sc = w.op("Div", [w.op("MatMul", [q, kt], p + "/scores"), "sqrt_d"], p + "/scaled")
        pr = w.op("Softmax", [w.op("Add", [sc, "mask"], p + "/masked")], p + "/probs", axis=-1)
        o = w.op("MatMul", [pr, vr], p + "/attn")
        o = w.op("Reshape", [w.op("Transpose", [o], p + "/attn_t", perm=[0, 2, 1, 3]),
                             w.const(p + "/tok", np.array([1, 1, c["heads"] * hd], np.int64))],
                 p + "/attn_tok")
        wo = w.weight(f"{p}.self_attn.o_proj.weight", c["heads"] * hd, c["hidden"])
        x = w.op("Add", [w.op("MatMul", [o, wo], p + "/o_proj"), x], p + "/residual1")
        m = rms_norm(w, x, w.weight(f"{p}.post_attention_layernorm.weight", c["hidden"],
                                    offset=1.0), p + "/post_attention_layernorm")
        g = w.op("MatMul", [m, w.weight(f"{p}.mlp.gate_proj.weight", c["hidden"], c["ffn"])],
                 p + "/gate")
        act = w.op("Mul", [g, w.op("Sigmoid", [g], p + "/sigmoid")], p + "/silu")
        up = w.op("MatMul", [m, w.weight(f"{p}.mlp.up_proj.weight", c["hidden"], c["ffn"])],
                  p + "/up")
        dn = w.op("MatMul", [w.op("Mul", [act, up], p + "/gated"),
                             w.weight(f"{p}.mlp.down_proj.weight", c["ffn"], c["hidden"])],
                  p + "/down")
        x = w.op("Add", [dn, x], p + "/residual2")
    h = rms_norm(w, x, w.weight("model.norm.weight", c["hidden"], offset=1.0), "/model/norm")
    lm = w.op("Transpose", [emb], "/lm_head/tied", perm=[1, 0])  # tied to the embeddings
    w.op("MatMul", [h, lm], "logits")

    cache = ["batch_size", c["kv"], "past_sequence_length", hd]
    present = ["batch_size", c["kv"], "past_sequence_length + 1", hd]
    ins = [helper.make_tensor_value_info("input_ids", I64, ["batch_size", "sequence_length"]),
           helper.make_tensor_value_info("attention_mask", I64,
                                         ["batch_size", "past_sequence_length + 1"]),
           helper.make_tensor_value_info("position_ids", I64, ["batch_size", "sequence_length"])]
    for i in range(c["layers"]):
        ins += [helper.make_tensor_value_info(f"past_key_values.{i}.{t}", F32, cache)
                for t in ("key", "value")]
    outs = [helper.make_tensor_value_info("logits", F32,
                                          ["batch_size", "sequence_length", c["vocab"]])]
    outs += [helper.make_tensor_value_info(o, F32, present) for o in outputs]
    g = helper.make_graph(w.nodes, "llama_decoder_with_past", ins, outs, w.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="tierbench scripts/hf_decoder.py")
    model.ir_version = 8
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--preset", default="smollm-135m", choices=sorted(PRESETS))
    ap.add_argument("--layers", type=int, help="fewer layers than the preset's")
    a = ap.parse_args()
    c = dict(PRESETS[a.preset])
    if a.layers:
        c["layers"] = a.layers
    model = build(c)
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    data = os.path.basename(a.out) + ".data"
    onnx.save(model, a.out, save_as_external_data=True, all_tensors_to_one_file=True,
              location=data, size_threshold=1024)
    print(f"{a.out}: {a.preset}, {c['layers']} layers; run a step after 127 tokens with "
          f"--input input_ids=1x1 --input past_key_values.0.key=1x{c['kv']}x127x{c['hd']}")


if __name__ == "__main__":
    main()
