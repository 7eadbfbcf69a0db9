#!/usr/bin/python3
"""Writes the ONNX import test corpus into DIR (argv[1]): small models built with Debian's onnx
package, each with a seeded input and the output numpy computes from ONNX's definitions
(independently of tierbench), and hostile files the importer must reject. manifest.json lists
them."""
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1]
rng = np.random.default_rng(7)
cases, hostile = [], []


def rnd(*shape, scale=0.5):
    return (rng.uniform(-1, 1, size=shape) * scale).astype(np.float32)


# --- numpy references (ONNX semantics) --------------------------------------------------------
def conv(x, w, b, stride=1, pad=0, group=1, pad_end=0):
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    e = pad + pad_end  # bottom and right
    xp = np.pad(x, ((0, 0), (0, 0), (pad, e), (pad, e)))
    oh, ow = (h + pad + e - r) // stride + 1, (wd + pad + e - s) // stride + 1
    y = np.zeros((n, k, oh, ow), np.float64)
    kg = k // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        for o in range(g * kg, (g + 1) * kg):
            for i in range(oh):
                for j in range(ow):
                    patch = xs[:, :, i * stride:i * stride + r, j * stride:j * stride + s]
                    y[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def pool(x, k, stride, pad, kind, pad_end=0):
    n, c, h, w = x.shape
    oh = (h + 2 * pad + pad_end - k) // stride + 1
    ow = (w + 2 * pad + pad_end - k) // stride + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            i0, j0 = i * stride - pad, j * stride - pad
            win = x[:, :, max(i0, 0):min(i0 + k, h), max(j0, 0):min(j0 + k, w)]
            y[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
    return y


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layernorm(x, g, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# --- model writing -----------------------------------------------------------------------------
def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def model(nodes, inputs, outputs, inits, opset=17):
    g = helper.make_graph(nodes, "test", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="test")
    m.ir_version = 8
    return m


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def case(name, m, x, y, bind=None):
    out = m.graph.output[0]
    out.CopyFrom(vi(out.name, list(np.asarray(y).shape)))
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))
    x.tofile(os.path.join(OUT, name + ".in.bin"))
    np.asarray(y, np.float32).tofile(os.path.join(OUT, name + ".out.bin"))
    cases.append({"name": name, "ids": bool(x.dtype != np.float32), "input_shape": list(x.shape),
                  "output_numel": int(np.asarray(y).size), "bind": bind})


N = helper.make_node

# Conv + bias + Relu
x = rnd(1, 3, 8, 8, scale=1); w = rnd(4, 3, 3, 3); b = rnd(4)
case("conv_relu", model([N("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1] * 4),
                         N("Relu", ["c"], ["y"], name="relu")],
                        [vi("x", [1, 3, 8, 8])], [vi("y", None)], [init("w", w), init("b", b)]),
     x, np.maximum(conv(x, w, b, pad=1), 0))

# Depthwise conv, stride 2, Clip(0, 6) (opset 11 inputs)
x = rnd(1, 8, 9, 9, scale=4); w = rnd(8, 1, 3, 3, scale=2); b = rnd(8)
case("conv_depthwise_clip", model(
    [N("Conv", ["x", "w", "b"], ["c"], name="dw", pads=[1] * 4, strides=[2, 2], group=8,
       kernel_shape=[3, 3]),
     N("Clip", ["c", "lo", "hi"], ["y"], name="relu6")],
    [vi("x", [1, 8, 9, 9])], [vi("y", None)],
    [init("w", w), init("b", b), init("lo", np.float32(0)), init("hi", np.float32(6))], opset=11),
    x, np.clip(conv(x, w, b, stride=2, pad=1, group=8), 0, 6))

# Grouped 1x1 conv without bias, BatchNormalization folded, residual Add, Relu after it
x = rnd(1, 8, 6, 6, scale=1); w = rnd(8, 4, 1, 1)
gm, bt, mn, vr = rnd(8) + 1, rnd(8), rnd(8), np.abs(rnd(8)) + 0.5
bn = (conv(x, w, None, group=2) - mn.reshape(1, -1, 1, 1)) / np.sqrt(vr.reshape(1, -1, 1, 1) + 1e-5)
bn = bn * gm.reshape(1, -1, 1, 1) + bt.reshape(1, -1, 1, 1)
case("conv_grouped_bn_residual", model(
    [N("Conv", ["x", "w"], ["c"], name="gconv", group=2),
     N("BatchNormalization", ["c", "g", "bt", "mn", "vr"], ["n"], name="bn"),
     N("Add", ["n", "x"], ["s"], name="res"), N("Relu", ["s"], ["y"], name="relu")],
    [vi("x", [1, 8, 6, 6])], [vi("y", None)],
    [init("w", w), init("g", gm), init("bt", bt), init("mn", mn), init("vr", vr)]),
    x, np.maximum(bn + x, 0))

# Pooling, GlobalAveragePool, Flatten, Gemm (transB), Softmax
x = rnd(1, 4, 8, 8, scale=1); w = rnd(6, 4, 1, 1); b = rnd(6); fw = rnd(5, 6); fb = rnd(5)
h = conv(x, w, b)
h = pool(h, 3, 2, 1, "max")
h = pool(h, 2, 2, 0, "avg")
h = h.mean(axis=(2, 3))
case("pool_gemm_softmax", model(
    [N("Conv", ["x", "w", "b"], ["c"], name="conv"),
     N("MaxPool", ["c"], ["p1"], name="maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
     N("AveragePool", ["p1"], ["p2"], name="avgpool", kernel_shape=[2, 2], strides=[2, 2]),
     N("GlobalAveragePool", ["p2"], ["gp"], name="gap"),
     N("Flatten", ["gp"], ["f"], name="flatten"),
     N("Gemm", ["f", "fw", "fb"], ["l"], name="fc", transB=1),
     N("Softmax", ["l"], ["y"], name="softmax", axis=-1)],
    [vi("x", [1, 4, 8, 8])], [vi("y", None)],
    [init("w", w), init("b", b), init("fw", fw), init("fb", fb)]),
    x, softmax(h @ fw.T + fb))

# MatMul + bias, erf GELU, MatMul + bias + residual, LayerNormalization
x = rnd(4, 16, scale=1); w1 = rnd(16, 32); b1 = rnd(32); w2 = rnd(32, 16); b2 = rnd(16)
lg, lb = rnd(16) + 1, rnd(16)
h = gelu(x @ w1 + b1)
case("mlp_gelu_layernorm", model(
    [N("MatMul", ["x", "w1"], ["m1"], name="fc1"), N("Add", ["m1", "b1"], ["a1"], name="fc1_bias"),
     N("Div", ["a1", "sqrt2"], ["d"]), N("Erf", ["d"], ["e"]), N("Add", ["e", "one"], ["e1"]),
     N("Mul", ["a1", "e1"], ["g0"]), N("Mul", ["g0", "half"], ["g"]),
     N("MatMul", ["g", "w2"], ["m2"], name="fc2"), N("Add", ["m2", "b2"], ["a2"], name="fc2_bias"),
     N("Add", ["a2", "x"], ["r"], name="residual"),
     N("LayerNormalization", ["r", "lg", "lb"], ["y"], name="ln", axis=-1, epsilon=1e-5)],
    [vi("x", [4, 16])], [vi("y", None)],
    [init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2), init("lg", lg), init("lb", lb),
     init("sqrt2", np.float32(math.sqrt(2))), init("one", np.float32(1)),
     init("half", np.float32(0.5))]),
    x, layernorm(h @ w2 + b2 + x, lg, lb))

# Gemm (transB 0, alpha, beta) and x * Sigmoid(x)
x = rnd(2, 8, scale=1); w = rnd(8, 6); c = rnd(6)
h = 0.5 * (x @ w) + 2.0 * c
case("gemm_silu", model(
    [N("Gemm", ["x", "w", "c"], ["h"], name="gemm", alpha=0.5, beta=2.0),
     N("Sigmoid", ["h"], ["s"], name="sig"), N("Mul", ["h", "s"], ["y"], name="silu")],
    [vi("x", [2, 8])], [vi("y", None)], [init("w", w), init("c", c)]),
    x, h * sigmoid(h))

# LayerNorm written out (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add)
x = rnd(3, 16, scale=2); w = rnd(16, 16); lg, lb = rnd(16) + 1, rnd(16)
h = x @ w
case("layernorm_decomposed", model(
    [N("MatMul", ["x", "w"], ["h"], name="proj"),
     N("ReduceMean", ["h"], ["mu"], name="ln_mean", axes=[-1]),
     N("Sub", ["h", "mu"], ["d"]), N("Pow", ["d", "two"], ["sq"]),
     N("ReduceMean", ["sq"], ["var"], axes=[-1]), N("Add", ["var", "eps"], ["ve"]),
     N("Sqrt", ["ve"], ["sd"]), N("Div", ["d", "sd"], ["nrm"]), N("Mul", ["nrm", "lg"], ["sc"]),
     N("Add", ["sc", "lb"], ["y"])],
    [vi("x", [3, 16])], [vi("y", None)],
    [init("w", w), init("lg", lg), init("lb", lb), init("two", np.float32(2)),
     init("eps", np.float32(1e-5))]),
    x, layernorm(h, lg, lb))

# Attention as PyTorch exports it: heads split by Reshape + Transpose, K^T by Transpose,
# MatMul, Div by sqrt(d), Softmax, MatMul, heads merged back.
T, H, NH = 6, 16, 2
D = H // NH
x = rnd(1, T, H, scale=1); wq, wk, wv, wo = rnd(H, H), rnd(H, H), rnd(H, H), rnd(H, H)
def heads(a):
    return a.reshape(1, T, NH, D).transpose(0, 2, 1, 3)
q, k, v = heads(x @ wq), heads(x @ wk), heads(x @ wv)
o = softmax(q @ k.transpose(0, 1, 3, 2) / math.sqrt(D)) @ v
o = o.transpose(0, 2, 1, 3).reshape(1, T, H) @ wo
shp = np.array([1, T, NH, D], np.int64)
case("attention", model(
    [N("MatMul", ["x", "wq"], ["q0"], name="q"), N("MatMul", ["x", "wk"], ["k0"], name="k"),
     N("MatMul", ["x", "wv"], ["v0"], name="v"),
     N("Reshape", ["q0", "shp"], ["q1"]), N("Transpose", ["q1"], ["q2"], perm=[0, 2, 1, 3]),
     N("Reshape", ["k0", "shp"], ["k1"]), N("Transpose", ["k1"], ["kt"], perm=[0, 2, 3, 1]),
     N("Reshape", ["v0", "shp"], ["v1"]), N("Transpose", ["v1"], ["v2"], perm=[0, 2, 1, 3]),
     N("MatMul", ["q2", "kt"], ["s"], name="scores"), N("Div", ["s", "scale"], ["ss"]),
     N("Softmax", ["ss"], ["p"], axis=-1), N("MatMul", ["p", "v2"], ["o"], name="pv"),
     N("Transpose", ["o"], ["o1"], perm=[0, 2, 1, 3]), N("Reshape", ["o1", "shp2"], ["o2"]),
     N("MatMul", ["o2", "wo"], ["y"], name="out")],
    [vi("x", [1, T, H])], [vi("y", None)],
    [init("wq", wq), init("wk", wk), init("wv", wv), init("wo", wo), init("shp", shp),
     init("shp2", np.array([1, T, H], np.int64)), init("scale", np.float32(math.sqrt(D)))]),
    x, o)

# Embedding lookup with a dynamic sequence length (bound by --input), position table gathered
# by Range over the shape, and shape arithmetic folded at import.
V, E, S = 50, 8, 5
table, pos = rnd(V, E), rnd(16, E)
ids = rng.integers(0, V, size=(S,)).astype(np.int64)
w = rnd(E, 4)
case("embed_dynamic", model(
    [N("Gather", ["table", "ids"], ["e"], name="embed"),
     N("Shape", ["ids"], ["sh"]), N("Gather", ["sh", "zero"], ["len"], axis=0),
     N("Range", ["zero", "len", "one"], ["pids"]), N("Gather", ["pos", "pids"], ["pe"]),
     N("Add", ["e", "pe"], ["h"], name="add_pos"),
     N("Unsqueeze", ["len", "ax0"], ["len1"]), N("Concat", ["len1", "m1"], ["rs"], axis=0),
     N("Reshape", ["h", "rs"], ["h2"]), N("MatMul", ["h2", "w"], ["m"], name="proj"),
     N("Relu", ["m"], ["y"])],
    [vi("ids", ["seq"], TensorProto.INT64)], [vi("y", None)],
    [init("table", table), init("pos", pos), init("w", w), init("zero", np.int64(0)),
     init("one", np.int64(1)), init("ax0", np.array([0], np.int64)),
     init("m1", np.array([-1], np.int64))]),
    ids.astype(np.int32), np.maximum((table[ids] + pos[:S]) @ w, 0), bind="ids=5")

# Constants broadcast into elementwise ops on an image (Sub, Mul, Div), NCHW output kept
x = rnd(1, 4, 5, 5, scale=1); w = rnd(4, 4, 1, 1); c1, c2 = rnd(4, 1, 1), rnd(4, 1, 1) + 2
h = conv(x, w, None)
case("broadcast_consts", model(
    [N("Conv", ["x", "w"], ["c"], name="conv"), N("Sub", ["c", "c1"], ["s"], name="sub"),
     N("Mul", ["s", "k"], ["m"], name="mul"), N("Div", ["m", "c2"], ["y"], name="div")],
    [vi("x", [1, 4, 5, 5])], [vi("y", None)],
    [init("w", w), init("c1", c1), init("c2", c2), init("k", np.float32(3))]),
    x, (h - c1) * 3 / c2)

# Negation of computed tensors: Sub of two convs, a constant minus a computed tensor (broadcast
# per channel), and Neg (each a Mul by -1 before an Add)
x = rnd(1, 3, 5, 5, scale=1); w1 = rnd(4, 3, 1, 1); w2 = rnd(4, 3, 1, 1); c1 = rnd(4, 1, 1)
h = conv(x, w1, None) - conv(x, w2, None)
case("neg_and_sub", model(
    [N("Conv", ["x", "w1"], ["a"], name="conv_a"), N("Conv", ["x", "w2"], ["b"], name="conv_b"),
     N("Sub", ["a", "b"], ["s"], name="sub"), N("Sub", ["c1", "s"], ["t"], name="rsub"),
     N("Neg", ["t"], ["y"], name="neg")],
    [vi("x", [1, 3, 5, 5])], [vi("y", None)], [init("w1", w1), init("w2", w2), init("c1", c1)]),
    x, -(c1 - h))

# A transpose of computed values that needs a host permute, then Relu
x = rnd(2, 3, 4, scale=1); w = rnd(4, 4)
case("transpose_permute", model(
    [N("MatMul", ["x", "w"], ["m"], name="proj"), N("Transpose", ["m"], ["t"], perm=[1, 0, 2]),
     N("Relu", ["t"], ["y"])],
    [vi("x", [2, 3, 4])], [vi("y", None)], [init("w", w)]),
    x, np.maximum((x @ w).transpose(1, 0, 2), 0))

# auto_pad on Conv and the pools: SAME_UPPER, SAME_LOWER (odd totals split evenly here) and
# VALID, the pads worked out from the bound input shape as ONNX defines them.
def same_pads(n, k, s):
    out = -(-n // s)
    return max(0, (out - 1) * s + k - n)


x = rnd(1, 3, 7, 7, scale=1); w1 = rnd(4, 3, 3, 3); b1 = rnd(4); w2 = rnd(4, 4, 5, 5); b2 = rnd(4)
w3 = rnd(6, 4, 3, 3)
assert same_pads(7, 3, 1) == 2 and same_pads(7, 5, 1) == 4
h = conv(x, w1, b1, pad=1)                     # SAME_UPPER: total 2, 1 each side
h = conv(h, w2, b2, pad=2)                     # SAME_LOWER: total 4, 2 each side
h = pool(h, 3, 1, 1, "max")                    # SAME_UPPER pool
h = conv(h, w3, None, stride=2)                # VALID, stride 2: 3x3
h = pool(h, 2, 1, 0, "avg")                    # VALID pool: 2x2
case("auto_pad", model(
    [N("Conv", ["x", "w1", "b1"], ["c1"], name="same_upper", auto_pad="SAME_UPPER"),
     N("Conv", ["c1", "w2", "b2"], ["c2"], name="same_lower", auto_pad="SAME_LOWER",
       kernel_shape=[5, 5]),
     N("MaxPool", ["c2"], ["p1"], name="maxpool_same", kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
     N("Conv", ["p1", "w3"], ["c3"], name="valid", auto_pad="VALID", strides=[2, 2]),
     N("AveragePool", ["c3"], ["y"], name="avgpool_valid", kernel_shape=[2, 2], auto_pad="VALID")],
    [vi("x", [1, 3, 7, 7])], [vi("y", None)],
    [init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2), init("w3", w3)]),
    x, h)

# SAME_UPPER with stride 2 on an even image pads one pixel at the end only (TensorFlow's SAME, as
# its exported MobileNets have), and explicit pads with more at the bottom and right
x = rnd(1, 3, 8, 8, scale=1); w1 = rnd(4, 3, 3, 3); b1 = rnd(4); w2 = rnd(4, 1, 3, 3)
w3 = rnd(5, 4, 5, 5)
assert same_pads(8, 3, 2) == 1
h = np.maximum(conv(x, w1, b1, stride=2, pad_end=1), 0)  # 8x8 -> 4x4
h = conv(h, w2, None, stride=2, group=4, pad_end=1)      # depthwise, 4x4 -> 2x2
h = conv(h, w3, None, pad=1, pad_end=2)                  # pads 1x1x3x3: 2x2 -> 2x2
case("auto_pad_stride2", model(
    [N("Conv", ["x", "w1", "b1"], ["c1"], name="same_s2", auto_pad="SAME_UPPER", strides=[2, 2]),
     N("Relu", ["c1"], ["r1"]),
     N("Conv", ["r1", "w2"], ["c2"], name="dw_same_s2", auto_pad="SAME_UPPER", strides=[2, 2],
       group=4),
     N("Conv", ["c2", "w3"], ["y"], name="pads_end", pads=[1, 1, 3, 3])],
    [vi("x", [1, 3, 8, 8])], [vi("y", None)], [init("w1", w1), init("b1", b1), init("w2", w2),
                                               init("w3", w3)]),
    x, h)

# Pools with more padding at the bottom and right: TensorFlow's SAME max pool with stride 2 on an
# even image (one pixel at the end only), and an average pool with pads 1x1x2x2 (the padding
# excluded from each window's count, ONNX's count_include_pad=0)
x = rnd(1, 3, 8, 8, scale=1); w1 = rnd(4, 3, 1, 1)
assert same_pads(8, 3, 2) == 1
h = pool(conv(x, w1, None), 3, 2, 0, "max", pad_end=1)   # 8x8 -> 4x4
h = pool(h, 3, 2, 1, "avg", pad_end=1)                   # 4x4 -> 3x3
case("pool_pad_end", model(
    [N("Conv", ["x", "w1"], ["c"], name="pw"),
     N("MaxPool", ["c"], ["p"], name="max_same_s2", kernel_shape=[3, 3], strides=[2, 2],
       auto_pad="SAME_UPPER"),
     N("AveragePool", ["p"], ["y"], name="avg_pads_end", kernel_shape=[3, 3], strides=[2, 2],
       pads=[1, 1, 2, 2])],
    [vi("x", [1, 3, 8, 8])], [vi("y", None)], [init("w1", w1)]),
    x, h)

# Concat and Slice of computed tensors (host copies): an NCHW channel concat of two conv branches
# (Inception / SqueezeNet), slices along channels and, strided, along height and width (YOLO's
# focus), a reversed width (negative step), and a 2-D slice-and-swap as rotate_half has.
x = rnd(1, 3, 6, 6, scale=1); wa = rnd(4, 3, 3, 3); ba = rnd(4); wb = rnd(2, 3, 1, 1)
wc = rnd(3, 6, 3, 3)
h = np.concatenate([np.maximum(conv(x, wa, ba, pad=1), 0), conv(x, wb, None)], axis=1)
case("concat_channels", model(
    [N("Conv", ["x", "wa", "ba"], ["a"], name="branch_a", pads=[1] * 4), N("Relu", ["a"], ["ar"]),
     N("Conv", ["x", "wb"], ["b"], name="branch_b"),
     N("Concat", ["ar", "b"], ["cat"], name="cat", axis=1),
     N("Conv", ["cat", "wc"], ["y"], name="after", pads=[1] * 4)],
    [vi("x", [1, 3, 6, 6])], [vi("y", None)],
    [init("wa", wa), init("ba", ba), init("wb", wb), init("wc", wc)]),
    x, conv(h, wc, None, pad=1))

x = rnd(1, 4, 8, 8, scale=1); w1 = rnd(6, 4, 3, 3); w2 = rnd(5, 4, 1, 1)
h = conv(x, w1, None, pad=1)[:, 1:5, 0:8:2, 1:8:2][:, :, :, ::-1]
case("slice_channels_spatial", model(
    [N("Conv", ["x", "w1"], ["c"], name="conv", pads=[1] * 4),
     N("Slice", ["c", "st", "en", "ax", "sp"], ["s"], name="slice"),
     N("Slice", ["s", "st2", "en2", "ax2", "sp2"], ["r"], name="reverse"),
     N("Conv", ["r", "w2"], ["y"], name="pw")],
    [vi("x", [1, 4, 8, 8])], [vi("y", None)],
    [init("w1", w1), init("w2", w2),
     init("st", np.array([1, 0, 1], np.int64)), init("en", np.array([5, 8, 99], np.int64)),
     init("ax", np.array([1, 2, -1], np.int64)), init("sp", np.array([1, 2, 2], np.int64)),
     init("st2", np.array([-1], np.int64)), init("en2", np.array([-99], np.int64)),
     init("ax2", np.array([3], np.int64)), init("sp2", np.array([-1], np.int64))]),
    x, conv(h, w2, None))

x = rnd(2, 8, scale=1); m1 = rnd(8, 8); m2 = rnd(8, 6)
h = x @ m1
h = np.concatenate([h[:, 4:], h[:, :4]], axis=1)
case("slice_concat_2d", model(
    [N("MatMul", ["x", "m1"], ["h"], name="fc1"),
     N("Slice", ["h", "four", "eight", "one"], ["hi"], name="upper"),
     N("Slice", ["h", "zero", "four", "one"], ["lo"], name="lower"),
     N("Concat", ["hi", "lo"], ["sw"], name="swap", axis=-1),
     N("MatMul", ["sw", "m2"], ["y"], name="fc2")],
    [vi("x", [2, 8])], [vi("y", None)],
    [init("m1", m1), init("m2", m2), init("zero", np.array([0], np.int64)),
     init("four", np.array([4], np.int64)), init("eight", np.array([8], np.int64)),
     init("one", np.array([1], np.int64))]),
    x, h @ m2)

# Concat of constants with computed tensors: a ViT class token before the patch embeddings
# (constant first, sequence axis), and a CoordConv-style coordinate plane after a conv's channels.
x = rnd(1, 4, 6, scale=1); wp = rnd(6, 8); cls = rnd(1, 1, 8); m2 = rnd(8, 3)
h = np.concatenate([cls, x @ wp], axis=1)
case("concat_class_token", model(
    [N("MatMul", ["x", "wp"], ["p"], name="patches"),
     N("Concat", ["cls", "p"], ["tok"], name="with_cls", axis=1),
     N("MatMul", ["tok", "m2"], ["y"], name="head")],
    [vi("x", [1, 4, 6])], [vi("y", None)], [init("wp", wp), init("cls", cls), init("m2", m2)]),
    x, h @ m2)

x = rnd(1, 3, 6, 6, scale=1); w1 = rnd(4, 3, 3, 3); coord = rnd(1, 2, 6, 6); w2 = rnd(5, 6, 1, 1)
h = np.concatenate([np.maximum(conv(x, w1, None, pad=1), 0), coord], axis=1)
case("concat_coord_plane", model(
    [N("Conv", ["x", "w1"], ["c"], name="conv", pads=[1] * 4), N("Relu", ["c"], ["r"]),
     N("Concat", ["r", "coord"], ["cat"], name="with_coord", axis=1),
     N("Conv", ["cat", "w2"], ["y"], name="pw")],
    [vi("x", [1, 3, 6, 6])], [vi("y", None)],
    [init("w1", w1), init("coord", coord), init("w2", w2)]),
    x, conv(h, w2, None))

# Split of computed tensors (host slices): channel groups of a conv by explicit sizes (the split
# input, opset 13 on), and a fused QKV projection into equal thirds (no sizes), as transformer
# exports have.
x = rnd(1, 3, 6, 6, scale=1); w1 = rnd(6, 3, 3, 3); wa = rnd(3, 2, 1, 1); wb = rnd(3, 4, 1, 1)
h = conv(x, w1, None, pad=1)
case("split_channels", model(
    [N("Conv", ["x", "w1"], ["c"], name="conv", pads=[1] * 4),
     N("Split", ["c", "sizes"], ["p0", "p1"], name="groups", axis=1),
     N("Conv", ["p0", "wa"], ["a"], name="group_a"), N("Conv", ["p1", "wb"], ["b"], name="group_b"),
     N("Add", ["a", "b"], ["y"])],
    [vi("x", [1, 3, 6, 6])], [vi("y", None)],
    [init("w1", w1), init("wa", wa), init("wb", wb), init("sizes", np.array([2, 4], np.int64))]),
    x, conv(h[:, :2], wa, None) + conv(h[:, 2:], wb, None))

x = rnd(2, 8, scale=1); wqkv = rnd(8, 12); m2 = rnd(4, 5)
h = x @ wqkv
case("split_qkv", model(
    [N("MatMul", ["x", "wqkv"], ["h"], name="qkv"),
     N("Split", ["h"], ["q", "k", "v"], name="thirds", axis=-1),
     N("Add", ["q", "k"], ["s"]), N("Add", ["s", "v"], ["t"]),
     N("MatMul", ["t", "m2"], ["y"], name="out")],
    [vi("x", [2, 8])], [vi("y", None)], [init("wqkv", wqkv), init("m2", m2)]),
    x, (h[:, :4] + h[:, 4:8] + h[:, 8:]) @ m2)

# int8 weights dequantised per output channel (DequantizeLinear of constants, folded), f32 Gemm
# with weights dequantised per tensor
x = rnd(1, 3, 6, 6, scale=1)
wq = rng.integers(-127, 128, size=(4, 3, 3, 3)).astype(np.int8); ws = (rnd(4) + 1) / 100
gq = rng.integers(-128, 128, size=(4, 5)).astype(np.int8); gs = np.float32(0.02)
h = conv(x, wq.astype(np.float32) * ws.reshape(-1, 1, 1, 1), None, pad=1).mean(axis=(2, 3))
case("dequantized_weights", model(
    [N("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
     N("Conv", ["x", "w"], ["c"], name="conv", pads=[1] * 4),
     N("GlobalAveragePool", ["c"], ["p"]), N("Flatten", ["p"], ["f"]),
     N("DequantizeLinear", ["gq", "gs"], ["g"]), N("Gemm", ["f", "g"], ["y"], name="fc")],
    [vi("x", [1, 3, 6, 6])], [vi("y", None)],
    [init("wq", wq), init("ws", ws), init("wz", np.zeros(4, np.int8)), init("gq", gq),
     init("gs", gs)]),
    x, h @ (gq.astype(np.float32) * gs))


# Static QDQ, as ONNX Runtime's quantiser writes it (quantize_static, QuantFormat.QDQ): each
# activation QuantizeLinear / DequantizeLinear with a constant scale and a uint8 or int8 zero
# point, weights as int8 initialisers dequantised per output channel, biases as int32 with the
# scale s_in * s_w. numpy computes ONNX's definitions in float32 (round half to even).
def qdq(a, s, zp, signed):
    lo, hi = (-128, 127) if signed else (0, 255)
    q = np.clip(np.rint(np.asarray(a, np.float32) / np.float32(s)) + zp, lo, hi)
    return ((q - zp) * np.float32(s)).astype(np.float32)


def qdq_nodes(t, out, s, zp, signed):
    """Q and DQ of tensor t into out, with initialisers named after out."""
    z = np.int8(zp) if signed else np.uint8(zp)
    return ([N("QuantizeLinear", [t, out + ".s", out + ".z"], [out + ".q"], name=out + ".quant"),
             N("DequantizeLinear", [out + ".q", out + ".s", out + ".z"], [out], name=out + ".dq")],
            [init(out + ".s", np.float32(s)), init(out + ".z", z)])


def qweight(shape, axis):
    """int8 weights, per-channel scales along axis, their dequantised floats."""
    q = rng.integers(-127, 128, size=shape).astype(np.int8)
    sc = ((rng.uniform(0.5, 1.5, size=shape[axis])) / 200).astype(np.float32)
    bshape = [1] * len(shape); bshape[axis] = -1
    return q, sc, q.astype(np.float32) * sc.reshape(bshape)


nodes, inits = [], []
def add_qdq(t, out, s, zp, signed=False):
    n, i = qdq_nodes(t, out, s, zp, signed); nodes.extend(n); inits.extend(i)


def add_qw(name, shape, axis):
    q, sc, f = qweight(shape, axis)
    nodes.append(N("DequantizeLinear", [name + ".q", name + ".s", name + ".z"], [name],
                   name=name + ".dq", axis=axis))
    inits.extend([init(name + ".q", q), init(name + ".s", sc),
                  init(name + ".z", np.zeros(len(sc), np.int8))])
    return sc, f


def add_qbias(name, n, scale):
    bq = rng.integers(-2000, 2000, size=n).astype(np.int32)
    nodes.append(N("DequantizeLinear", [name + ".q", name + ".s"], [name], name=name + ".dq",
                   axis=0))
    inits.extend([init(name + ".q", bq), init(name + ".s", scale.astype(np.float32))])
    return bq.astype(np.float32) * scale.astype(np.float32)


# A CNN: input -> conv3x3 + ReLU -> (conv1x1 and the residual Add) -> pool -> Gemm. Conv1 pads an
# input of zero point 128 (f32 in an int8 graph), its output is read by a conv and by the Add (a
# fake quantisation in an int8 graph), conv2's by the Add only, the flattened features' by the
# Gemm only (its input quantize).
x = rnd(1, 3, 8, 8, scale=1)
s_in, s1, s2, s3, s4 = 0.008, 0.01, 0.012, 0.015, 0.006
add_qdq("x", "x.dq", s_in, 128)
ws1, w1 = add_qw("w1", (4, 3, 3, 3), 0)
b1 = add_qbias("b1", 4, np.float32(s_in) * ws1)
nodes += [N("Conv", ["x.dq", "w1", "b1"], ["c1"], name="conv1", pads=[1] * 4),
          N("Relu", ["c1"], ["r1"], name="relu1")]
add_qdq("r1", "r1.dq", s1, 0)
ws2, w2 = add_qw("w2", (4, 4, 1, 1), 0)
b2 = add_qbias("b2", 4, np.float32(s1) * ws2)
nodes.append(N("Conv", ["r1.dq", "w2", "b2"], ["c2"], name="conv2"))
add_qdq("c2", "c2.dq", s2, -3, signed=True)
nodes.append(N("Add", ["c2.dq", "r1.dq"], ["sum"], name="add"))
add_qdq("sum", "sum.dq", s3, 100)
nodes += [N("GlobalAveragePool", ["sum.dq"], ["gap"], name="gap"),
          N("Flatten", ["gap"], ["flat"], name="flatten")]
add_qdq("flat", "flat.dq", s4, 0, signed=True)
gq, gs, g = qweight((5, 4), 0)
nodes.append(N("DequantizeLinear", ["g.q", "g.s", "g.z"], ["g"], name="g.dq", axis=0))
inits += [init("g.q", gq), init("g.s", gs), init("g.z", np.zeros(5, np.int8))]
nodes.append(N("Gemm", ["flat.dq", "g"], ["y"], name="fc", transB=1))
h = qdq(x, s_in, 128, False)
h = qdq(np.maximum(conv(h, w1, b1, pad=1), 0), s1, 0, False)
c2 = qdq(conv(h, w2, b2), s2, -3, True)
h = qdq(c2 + h, s3, 100, False)
h = qdq(h.mean(axis=(2, 3)), s4, 0, True)
case("qdq_static_cnn", model(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", None)], inits), x,
     h.astype(np.float64) @ g.T.astype(np.float64))

# An MLP of MatMuls, int8 activations (zero point 0) into the first, uint8 after the ReLU.
nodes, inits = [], []
x = rnd(4, 16, scale=1)
add_qdq("x", "x.dq", 0.009, 0, signed=True)
_, m1 = add_qw("m1", (16, 8), 1)
bias = rnd(8, scale=0.1)
inits.append(init("bias", bias))
nodes += [N("MatMul", ["x.dq", "m1"], ["h"], name="mm1"), N("Add", ["h", "bias"], ["hb"]),
          N("Relu", ["hb"], ["r"], name="relu")]
add_qdq("r", "r.dq", 0.004, 0)
_, m2 = add_qw("m2", (8, 6), 1)
nodes.append(N("MatMul", ["r.dq", "m2"], ["y"], name="mm2"))
h = qdq(np.maximum(qdq(x, 0.009, 0, True) @ m1 + bias, 0), 0.004, 0, False)
case("qdq_static_mlp", model(nodes, [vi("x", [4, 16])], [vi("y", None)], inits), x,
     h.astype(np.float64) @ m2.astype(np.float64))


# A LLaMA decoder layer (prefill) as Hugging Face's PyTorch export writes it: Pow / Reciprocal
# RMSNorm with gamma first, rotate_half RoPE on heads-major q and k (full-width cos and sin
# tables, Neg and Concat), grouped-query K and V repeated by Unsqueeze / Expand / Reshape, a
# causal mask of float32's lowest value, SiLU-gated MLP, untied LM head, logits of every token.
V, T, NH, NKV, HD, FF = 40, 5, 4, 2, 8, 24
HID = NH * HD
emb, wq, wk, wv, wo = rnd(V, HID), rnd(HID, HID), rnd(HID, NKV * HD), rnd(HID, NKV * HD), rnd(HID, HID)
wg, wu, wd, wlm = rnd(HID, FF), rnd(HID, FF), rnd(FF, HID), rnd(HID, V)
g1, g2, g3 = rnd(HID) + 1, rnd(HID) + 1, rnd(HID) + 1
ids = rng.integers(0, V, size=(1, T)).astype(np.int64)
inv = 10000.0 ** (-np.arange(0, HD, 2, dtype=np.float64) / HD)
ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
cos = np.concatenate([np.cos(ang), np.cos(ang)], axis=-1).astype(np.float32)
sin = np.concatenate([np.sin(ang), np.sin(ang)], axis=-1).astype(np.float32)
mask = np.triu(np.full((T, T), np.finfo(np.float32).min, np.float32), 1)


def rms(x, g):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + 1e-5) * g


def rope_hf(x):
    h = x.shape[-1] // 2
    rot = np.concatenate([-x[..., h:], x[..., :h]], axis=-1)
    return x * cos + rot * sin


h0 = emb[ids[0]].astype(np.float64)[None]  # [1, T, HID]
hn = rms(h0, g1)
qh = (hn @ wq).reshape(1, T, NH, HD).transpose(0, 2, 1, 3)
kh = (hn @ wk).reshape(1, T, NKV, HD).transpose(0, 2, 1, 3)
vh = (hn @ wv).reshape(1, T, NKV, HD).transpose(0, 2, 1, 3)
qh, kh = rope_hf(qh), rope_hf(kh)
kr, vr = np.repeat(kh, NH // NKV, axis=1), np.repeat(vh, NH // NKV, axis=1)
att = softmax(qh @ kr.transpose(0, 1, 3, 2) / math.sqrt(HD) + mask) @ vr
h1 = att.transpose(0, 2, 1, 3).reshape(1, T, HID) @ wo + h0
m = rms(h1, g2)
h2 = ((m @ wg) * sigmoid(m @ wg) * (m @ wu)) @ wd + h1
logits = rms(h2, g3) @ wlm


def rms_nodes(x, g, out):
    return [N("Pow", [x, "two"], [out + ".sq"]),
            N("ReduceMean", [out + ".sq"], [out + ".ms"], axes=[-1], keepdims=1),
            N("Add", [out + ".ms", "eps"], [out + ".mse"]), N("Sqrt", [out + ".mse"], [out + ".rms"]),
            N("Reciprocal", [out + ".rms"], [out + ".inv"]),
            N("Mul", [x, out + ".inv"], [out + ".n"]), N("Mul", [g, out + ".n"], [out], name=out)]


def heads_nodes(x, n, out):
    return [N("Reshape", [x, "shp_" + str(n)], [out + ".r"]),
            N("Transpose", [out + ".r"], [out], perm=[0, 2, 1, 3])]


def rope_nodes(x, out):
    return [N("Mul", [x, "cos4"], [out + ".c"]),
            N("Slice", [x, "zero1", "half1", "last1"], [out + ".x1"]),
            N("Slice", [x, "half1", "big1", "last1"], [out + ".x2"]),
            N("Neg", [out + ".x2"], [out + ".nx2"]),
            N("Concat", [out + ".nx2", out + ".x1"], [out + ".rot"], axis=-1),
            N("Mul", [out + ".rot", "sin4"], [out + ".s"]),
            N("Add", [out + ".c", out + ".s"], [out], name=out)]


def repeat_nodes(x, out):
    return [N("Unsqueeze", [x, "ax2"], [out + ".u"]),
            N("Expand", [out + ".u", "rep_shape"], [out + ".e"]),
            N("Reshape", [out + ".e", "shp_rep"], [out])]


def attention_and_mlp_nodes(mask, tok_shape):
    """Scores of qr by the repeated keys, the mask, softmax, by the repeated values, o_proj and
    its residual, the SiLU-gated MLP and its residual, the final RMSNorm (into "hf")."""
    return ([N("Transpose", ["krep"], ["kt"], perm=[0, 1, 3, 2]),
             N("MatMul", ["qr", "kt"], ["sc"], name="scores"), N("Div", ["sc", "sqrt_d"], ["scd"]),
             N("Add", ["scd", mask], ["scm"]), N("Softmax", ["scm"], ["p"], axis=-1),
             N("MatMul", ["p", "vrep"], ["o"], name="pv"),
             N("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
             N("Reshape", ["ot", tok_shape], ["o2"]),
             N("MatMul", ["o2", "wo"], ["oo"], name="o_proj"), N("Add", ["oo", "h0"], ["h1"])] +
            rms_nodes("h1", "g2", "m") +
            [N("MatMul", ["m", "wg"], ["gt"], name="gate_proj"), N("Sigmoid", ["gt"], ["gs"]),
             N("Mul", ["gt", "gs"], ["act"]), N("MatMul", ["m", "wu"], ["up"], name="up_proj"),
             N("Mul", ["act", "up"], ["gu"]), N("MatMul", ["gu", "wd"], ["dn"], name="down_proj"),
             N("Add", ["dn", "h1"], ["h2"])] + rms_nodes("h2", "g3", "hf"))


i64 = lambda *v: np.array(v, np.int64)
nodes = ([N("Gather", ["embed", "ids"], ["h0"], name="embed_tokens")] + rms_nodes("h0", "g1", "hn") +
         [N("MatMul", ["hn", "wq"], ["q"], name="q_proj"), N("MatMul", ["hn", "wk"], ["k"], name="k_proj"),
          N("MatMul", ["hn", "wv"], ["v"], name="v_proj"),
          N("Unsqueeze", ["cos", "ax01"], ["cos4"]), N("Unsqueeze", ["sin", "ax01"], ["sin4"])] +
         heads_nodes("q", NH, "qh") + heads_nodes("k", NKV, "kh") + heads_nodes("v", NKV, "vh") +
         rope_nodes("qh", "qr") + rope_nodes("kh", "kr") + repeat_nodes("kr", "krep") +
         repeat_nodes("vh", "vrep") +
         attention_and_mlp_nodes("mask", "shp_tok") +
         [N("MatMul", ["hf", "wlm"], ["y"], name="lm_head")])
inits = [init("embed", emb), init("wq", wq), init("wk", wk), init("wv", wv), init("wo", wo),
         init("wg", wg), init("wu", wu), init("wd", wd), init("wlm", wlm), init("g1", g1),
         init("g2", g2), init("g3", g3), init("cos", cos), init("sin", sin), init("mask", mask),
         init("two", np.float32(2)), init("eps", np.float32(1e-5)),
         init("sqrt_d", np.float32(math.sqrt(HD))), init("ax01", i64(0, 1)), init("ax2", i64(2)),
         init("zero1", i64(0)), init("half1", i64(HD // 2)), init("big1", i64(2**62)),
         init("last1", i64(-1)), init("shp_" + str(NH), i64(1, T, NH, HD)),
         init("shp_" + str(NKV), i64(1, T, NKV, HD)), init("rep_shape", i64(1, NKV, NH // NKV, T, HD)),
         init("shp_rep", i64(1, NH, T, HD)), init("shp_tok", i64(1, T, HID))]
case("llama_layer_hf", model(nodes, [vi("ids", [1, T], TensorProto.INT64)], [vi("y", None)], inits),
     ids.astype(np.int32), logits)


# The same layer as Hugging Face's decoder-with-past export writes one decode step: input_ids
# [batch, 1] with attention_mask [batch, past + 1] and position_ids [batch, 1] (int64), the past
# keys and values [batch, kv, past, d] as inputs, present = Concat(past, new, axis 2) as
# outputs beside the logits; RoPE computed from position_ids (inv_freq MatMul, Cos, Sin), the
# reshape targets from Shape, and the mask from attention_mask and a Range > position (all
# foldable once the step is bound). tierbench seeds the caches itself (Executor::initial_values:
# splitmix64 from seed 42 ^ 0x5eed, [-1, 1), one stream over the states in input order, each
# [kv][past + 1][d]); numpy reads the same past.
P = T  # past length: the token decoded is at position 5


def tb_states(shapes, seed=42):
    s, out, mask64 = (seed ^ 0x5EED), [], (1 << 64) - 1
    for shp in shapes:
        vals = np.empty(int(np.prod(shp)), np.float32)
        for e in range(vals.size):
            s = (s + 0x9E3779B97F4A7C15) & mask64
            z = s
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask64
            z ^= z >> 31
            vals[e] = np.float32(2 * ((z >> 11) * 2.0 ** -53) - 1)
        out.append(vals.reshape(shp))
    return out


pk, pv = (c[:, :P] for c in tb_states([(NKV, P + 1, HD), (NKV, P + 1, HD)]))
tok = rng.integers(0, V, size=(1, 1)).astype(np.int64)
angd = P * inv
cosd = np.concatenate([np.cos(angd), np.cos(angd)])[None].astype(np.float32)  # [1, HD]
sind = np.concatenate([np.sin(angd), np.sin(angd)])[None].astype(np.float32)


def rope_dec(x):
    h = x.shape[-1] // 2
    return x * cosd + np.concatenate([-x[..., h:], x[..., :h]], axis=-1) * sind


d0 = emb[tok[0]].astype(np.float64)[None]  # [1, 1, HID]
dn = rms(d0, g1)
dq = rope_dec((dn @ wq).reshape(1, 1, NH, HD).transpose(0, 2, 1, 3))
dk = rope_dec((dn @ wk).reshape(1, 1, NKV, HD).transpose(0, 2, 1, 3))
dv = (dn @ wv).reshape(1, 1, NKV, HD).transpose(0, 2, 1, 3)
kall = np.concatenate([pk[None], dk], axis=2)  # [1, NKV, P + 1, HD]
vall = np.concatenate([pv[None], dv], axis=2)
kr, vr = np.repeat(kall, NH // NKV, axis=1), np.repeat(vall, NH // NKV, axis=1)
att = softmax(dq @ kr.transpose(0, 1, 3, 2) / math.sqrt(HD)) @ vr
d1 = att.transpose(0, 2, 1, 3).reshape(1, 1, HID) @ wo + d0
m = rms(d1, g2)
d2 = ((m @ wg) * sigmoid(m @ wg) * (m @ wu)) @ wd + d1
dlogits = rms(d2, g3) @ emb.T  # the LM head tied to the embeddings (MatMul by Transpose)


def heads_dyn(x, out):  # Reshape to Concat(batch, seq, -1, HD) read from Shape(x)
    return [N("Shape", [x], [out + ".shape"]),
            N("Gather", [out + ".shape", "i0s"], [out + ".b"], axis=0),
            N("Gather", [out + ".shape", "i1s"], [out + ".s"], axis=0),
            N("Unsqueeze", [out + ".b", "ax0"], [out + ".b1"]),
            N("Unsqueeze", [out + ".s", "ax0"], [out + ".s1"]),
            N("Concat", [out + ".b1", out + ".s1", "minus1", "hd1"], [out + ".tgt"], axis=0),
            N("Reshape", [x, out + ".tgt"], [out + ".r"]),
            N("Transpose", [out + ".r"], [out], perm=[0, 2, 1, 3])]


lowest = np.array(np.finfo(np.float32).min, np.float32)
dnodes = ([N("Gather", ["embed", "input_ids"], ["h0"], name="embed_tokens")] +
          rms_nodes("h0", "g1", "hn") +
          [N("MatMul", ["hn", "wq"], ["q"], name="q_proj"),
           N("MatMul", ["hn", "wk"], ["k"], name="k_proj"),
           N("MatMul", ["hn", "wv"], ["v"], name="v_proj"),
           # rotary: inv_freq[None, :, None] @ position_ids[:, None, :].float(), cat, cos, sin
           N("Unsqueeze", ["inv_freq", "ax02"], ["invx"]),
           N("Unsqueeze", ["position_ids", "ax1"], ["posx"]),
           N("Cast", ["posx"], ["posf"], to=TensorProto.FLOAT),
           N("MatMul", ["invx", "posf"], ["freqs0"]),
           N("Transpose", ["freqs0"], ["freqs"], perm=[0, 2, 1]),
           N("Concat", ["freqs", "freqs"], ["embp"], axis=-1),
           N("Cos", ["embp"], ["cos3"]), N("Sin", ["embp"], ["sin3"]),
           N("Unsqueeze", ["cos3", "ax1"], ["cos4"]), N("Unsqueeze", ["sin3", "ax1"], ["sin4"])] +
          heads_dyn("q", "qh") + heads_dyn("k", "kh") + heads_dyn("v", "vh") +
          rope_nodes("qh", "qr") + rope_nodes("kh", "kr") +
          [N("Concat", ["past_key_values.0.key", "kr"], ["present.0.key"], axis=2),
           N("Concat", ["past_key_values.0.value", "vh"], ["present.0.value"], axis=2)] +
          repeat_nodes("present.0.key", "krep") + repeat_nodes("present.0.value", "vrep") +
          # mask: Range(total) > position -> lowest (causal), attention_mask == 0 -> lowest
          [N("Shape", ["attention_mask"], ["am.shape"]),
           N("Gather", ["am.shape", "i1s"], ["total"], axis=0),
           N("Range", ["zero_s", "total", "one_s"], ["ar"]),
           N("Reshape", ["position_ids", "col"], ["posc"]),
           N("Greater", ["ar", "posc"], ["future"]),
           N("Where", ["future", "lowest", "zero_f"], ["causal"]),
           N("Unsqueeze", ["causal", "ax01"], ["causal4"]),
           N("Unsqueeze", ["attention_mask", "ax12"], ["am4"]),
           N("Equal", ["am4", "zero_i"], ["pad"]),
           N("Where", ["pad", "lowest", "causal4"], ["mask4"])] +
          attention_and_mlp_nodes("mask4", "shp_tok1") +
          [N("Transpose", ["embed"], ["embed_t"], perm=[1, 0]),
           N("MatMul", ["hf", "embed_t"], ["logits"], name="lm_head")])
dinits = [init(n, a) for n, a in (
    ("embed", emb), ("wq", wq), ("wk", wk), ("wv", wv), ("wo", wo), ("wg", wg), ("wu", wu),
    ("wd", wd), ("g1", g1), ("g2", g2), ("g3", g3),
    ("inv_freq", inv.astype(np.float32)), ("two", np.float32(2)), ("eps", np.float32(1e-5)),
    ("sqrt_d", np.float32(math.sqrt(HD))), ("ax0", i64(0)), ("ax1", i64(1)), ("ax2", i64(2)),
    ("ax01", i64(0, 1)), ("ax02", i64(0, 2)), ("ax12", i64(1, 2)), ("i0s", np.array(0, np.int64)), ("i1s", np.array(1, np.int64)),
    ("minus1", i64(-1)), ("hd1", i64(HD)), ("zero1", i64(0)), ("half1", i64(HD // 2)),
    ("big1", i64(2**62)), ("last1", i64(-1)), ("col", i64(-1, 1)),
    ("zero_s", np.array(0, np.int64)), ("one_s", np.array(1, np.int64)), ("zero_i", i64(0)),
    ("zero_f", np.array(0, np.float32)), ("lowest", lowest),
    ("rep_shape", i64(1, NKV, NH // NKV, P + 1, HD)), ("shp_rep", i64(1, NH, P + 1, HD)),
    ("shp_tok1", i64(1, 1, HID)))]
I64, F = TensorProto.INT64, TensorProto.FLOAT
dins = [vi("input_ids", ["batch_size", "sequence_length"], I64),
        vi("attention_mask", ["batch_size", "past_sequence_length + 1"], I64),
        vi("position_ids", ["batch_size", "sequence_length"], I64),
        vi("past_key_values.0.key", ["batch_size", NKV, "past_sequence_length", HD], F),
        vi("past_key_values.0.value", ["batch_size", NKV, "past_sequence_length", HD], F)]
douts = [vi("logits", None), vi("present.0.key", ["batch_size", NKV, "total", HD]),
         vi("present.0.value", ["batch_size", NKV, "total", HD])]
case("llama_decode_hf", model(dnodes, dins, douts, dinits), tok.astype(np.int32), dlogits,
     bind=["input_ids=1x1", "past_key_values.0.key=1x%dx%dx%d" % (NKV, P, HD)])
# Older exports (transformers < 4.38) gather the rotary tables by position_ids from cos_cached
# and sin_cached [max positions][d] instead of computing them.
rot = {"invx", "posx", "posf", "freqs0", "freqs", "embp", "cos3", "sin3"}
angs = np.arange(16, dtype=np.float64)[:, None] * inv[None, :]
gnodes = ([N("Gather", ["cos_cached", "position_ids"], ["cos3"], axis=0),
           N("Gather", ["sin_cached", "position_ids"], ["sin3"], axis=0)] +
          [n for n in dnodes if not set(n.output) & rot])
ginits = dinits + [init("cos_cached", np.concatenate([np.cos(angs)] * 2, -1).astype(np.float32)),
                   init("sin_cached", np.concatenate([np.sin(angs)] * 2, -1).astype(np.float32))]
case("llama_decode_hf_gather", model(gnodes, dins, douts, ginits), tok.astype(np.int32), dlogits,
     bind=["input_ids=1x1", "past_key_values.0.key=1x%dx%dx%d" % (NKV, P, HD)])

def bare_tensor(name, dims):
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    return t


# --- hostile files -----------------------------------------------------------------------------
def bad(name, data_or_model, expect, bind=None):
    path = os.path.join(OUT, name + ".onnx")
    if isinstance(data_or_model, bytes):
        open(path, "wb").write(data_or_model)
    else:
        onnx.save(data_or_model, path)
    hostile.append({"name": name, "expect": expect, "bind": bind})


good = open(os.path.join(OUT, "conv_relu.onnx"), "rb").read()
bad("truncated", good[: len(good) // 2], "does not parse")
bad("garbage", b"\x00\xffnot an onnx model at all" * 7, "does not parse")
x1 = [vi("x", [1, 4])]
big = bare_tensor("w", [1 << 40, 1 << 40])
bad("huge_initializer", model([N("MatMul", ["x", "w"], ["y"])], x1, [vi("y", None)], [big]),
    "too large")
bad("huge_input", model([N("Relu", ["x"], ["y"])], [vi("x", [1 << 31, 1 << 31, 4])],
                        [vi("y", None)], []), "too large")
short = bare_tensor("w", [4, 4])
short.raw_data = np.zeros(3, np.float32).tobytes()
bad("short_raw_data", model([N("MatMul", ["x", "w"], ["y"])], x1, [vi("y", None)], [short]),
    "raw_data holds 12 bytes")
bad("cycle", model([N("Relu", ["b"], ["a"], name="first"), N("Add", ["x", "a"], ["b"], name="second"),
                    N("Relu", ["b"], ["y"], name="last")], x1, [vi("y", None)], []), "cycle")
bad("missing_initializer", model([N("MatMul", ["x", "w_gone"], ["y"], name="fc")], x1,
                                 [vi("y", None)], []), "w_gone")
ext = bare_tensor("w", [4, 4])
ext.data_location = TensorProto.EXTERNAL
for k, v in (("location", "../../../etc/passwd"), ("offset", "0"), ("length", "64")):
    e = ext.external_data.add(); e.key, e.value = k, v
bad("external_escape", model([N("MatMul", ["x", "w"], ["y"])], x1, [vi("y", None)], [ext]),
    "leaves the model's directory")
open(os.path.join(OUT, "small.bin"), "wb").write(b"\0" * 16)
ext2 = bare_tensor("w", [4, 4])
ext2.data_location = TensorProto.EXTERNAL
for k, v in (("location", "small.bin"), ("offset", "0"), ("length", "64")):
    e = ext2.external_data.add(); e.key, e.value = k, v
bad("external_out_of_range", model([N("MatMul", ["x", "w"], ["y"])], x1, [vi("y", None)], [ext2]),
    "outside")
bad("unsupported_op", model([N("Cos", ["x"], ["y"], name="my_cosine")], x1, [vi("y", None)], []),
    "node 'my_cosine' (Cos)")
bad("unsupported_attribute",
    model([N("Conv", ["x4", "w"], ["y"], name="dilated", dilations=[2, 2])],
          [vi("x4", [1, 2, 8, 8])], [vi("y", None)], [init("w", rnd(2, 2, 3, 3))]),
    "node 'dilated' (Conv): dilation")
bad("bad_perm", model([N("Transpose", ["x"], ["y"], name="tr", perm=[0, 0])], x1, [vi("y", None)],
                     []), "node 'tr' (Transpose): perm")
bad("zero_stride",
    model([N("Conv", ["x4", "w"], ["y"], name="c0", strides=[0, 0])], [vi("x4", [1, 2, 8, 8])],
          [vi("y", None)], [init("w", rnd(2, 2, 3, 3))]), "node 'c0' (Conv): strides")
# SAME_LOWER with stride 2 on an even image pads one pixel at the start only: the conv kernels
# pad top and left alike and at most as much as bottom and right.
bad("auto_pad_asymmetric",
    model([N("Conv", ["x4", "w"], ["y"], name="same2", strides=[2, 2], auto_pad="SAME_LOWER")],
          [vi("x4", [1, 2, 8, 8])], [vi("y", None)], [init("w", rnd(2, 2, 3, 3))]),
    "node 'same2' (Conv): asymmetric pads 1x1x0x0 (from auto_pad SAME_LOWER on 8x8)")
bad("pads_top_not_left",
    model([N("Conv", ["x4", "w"], ["y"], name="tl", pads=[0, 1, 0, 1])],
          [vi("x4", [1, 2, 8, 8])], [vi("y", None)], [init("w", rnd(2, 2, 3, 3))]),
    "node 'tl' (Conv): asymmetric pads 0x1x0x1")
bad("split_sizes_mismatch", model(
    [N("MatMul", ["x", "w"], ["h"]), N("Split", ["h", "sz"], ["a", "b"], name="sp", axis=1),
     N("Add", ["a", "b"], ["y"])], x1, [vi("y", None)],
    [init("w", rnd(4, 6)), init("sz", np.array([2, 3], np.int64))]),
    "node 'sp' (Split): Split parts sum to 5, the axis has 6")
bad("concat_integer_constant", model(
    [N("MatMul", ["x", "w"], ["h"]), N("Concat", ["h", "ids"], ["y"], name="cat", axis=1)],
    x1, [vi("y", None)], [init("w", rnd(4, 6)), init("ids", np.ones((1, 3), np.int64))]),
    "node 'cat' (Concat): Concat of the integer constant 'ids' with computed tensors")
bad("pool_pads_top_not_left",
    model([N("MaxPool", ["x4"], ["y"], name="mp", kernel_shape=[3, 3], pads=[0, 1, 0, 1])],
          [vi("x4", [1, 2, 8, 8])], [vi("y", None)], []),
    "node 'mp' (MaxPool): asymmetric pads 0x1x0x1")
# Static QDQ that the kernels cannot honour: a per-channel activation scale, and a
# DequantizeLinear whose constants are not its QuantizeLinear's.
bad("qdq_per_channel_activation",
    model([N("QuantizeLinear", ["x4", "s", "z"], ["xq"], name="q", axis=1),
           N("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq", axis=1),
           N("Conv", ["xd", "w"], ["y"], name="conv")],
          [vi("x4", [1, 2, 8, 8])], [vi("y", None)],
          [init("w", rnd(2, 2, 3, 3)), init("s", np.full(2, 0.05, np.float32)),
           init("z", np.full(2, 128, np.uint8))]),
    "node 'q' (QuantizeLinear): an activation scale of 2 values")
bad("qdq_mismatched_dequant",
    model([N("QuantizeLinear", ["x4", "s", "z"], ["xq"], name="q"),
           N("DequantizeLinear", ["xq", "s2", "z"], ["xd"], name="dq"),
           N("Conv", ["xd", "w"], ["y"], name="conv")],
          [vi("x4", [1, 2, 8, 8])], [vi("y", None)],
          [init("w", rnd(2, 2, 3, 3)), init("s", np.float32(0.05)), init("s2", np.float32(0.04)),
           init("z", np.uint8(128))]),
    "node 'dq' (DequantizeLinear): DequantizeLinear with another scale or zero point")
bad("dynamic_unbound", model([N("Relu", ["x"], ["y"])], [vi("x", ["batch", 4])], [vi("y", None)], []),
    "--input x=")
bad("old_opset", model([N("Relu", ["x"], ["y"])], x1, [vi("y", None)], [], opset=9), "opset 9")
# A NaN weight (found by fuzz_onnx: quantised to int8 it was undefined behaviour) and an infinite
# one: refused, whatever the dtype.
nan_w = rnd(4, 4); nan_w[2, 1] = np.nan
bad("nan_weight", model([N("MatMul", ["x", "w"], ["y"], name="fc")], x1, [vi("y", None)],
                        [init("w", nan_w)]), "node 'fc' (MatMul): weight fc.weight holds NaN")
inf_w = rnd(4); inf_w[3] = np.inf
bad("inf_bias", model([N("MatMul", ["x", "w"], ["m"], name="fc"), N("Add", ["m", "b"], ["y"])], x1,
                      [vi("y", None)], [init("w", rnd(4, 4)), init("b", inf_w)]), "holds an infinity")
# A node without outputs (found by fuzz_onnx: the patterns read its output 0, out of bounds).
bad("no_output", model([N("Relu", ["x"], ["y"], name="relu"), N("Relu", ["y"], [], name="dangling")],
                       x1, [vi("y", None)], []), "node 'dangling' (Relu) has no output")
# A Reshape whose target shape overflows 64 bits (found by fuzz_onnx: signed overflow in
# reshape_shape).
bad("reshape_overflow", model([N("Reshape", ["x", "s"], ["y"], name="rs")], x1, [vi("y", None)],
                              [init("s", np.array([1 << 40, 1 << 40, 1 << 40], np.int64))]),
    "node 'rs' (Reshape): Reshape to a shape of more than 2^63 elements")
# An Add with one input (found by fuzz_onnx: its second input was read out of bounds).
bad("add_one_input", model([N("Add", ["x"], ["y"], name="add1")], x1, [vi("y", None)], []),
    "node 'add1' (Add) has 1 input, Add takes at least 2")
# Ops that take an axis, on a rank-0 constant (found by fuzz_onnx: Slice indexed the empty shape
# with axis 0; Gather, Squeeze and Concat had the same hole).
one = np.array([0], np.int64)
s0 = init("s0", np.float32(2.0))
for op, ins, attrs, extra in (("Slice", ["s0", "st", "en"], {}, [init("st", one), init("en", one + 1)]),
                              ("Gather", ["s0", "ix"], {}, [init("ix", one)]),
                              ("Squeeze", ["s0", "ax"], {}, [init("ax", one)]),
                              ("Concat", ["s0", "s0"], {"axis": 0}, [])):
    bad(op.lower() + "_scalar",
        model([N(op, ins, ["c"], name="op0", **attrs), N("Add", ["x", "c"], ["y"], name="add")], x1,
              [vi("y", None)], [s0] + extra),
        "node 'op0' (" + op + "): axis 0 outside a rank-0 tensor")
# A Range whose start holds no value (found by fuzz_onnx: start[0] read past an empty tensor).
bad("range_empty_start",
    model([N("Range", ["st", "li", "de"], ["r"], name="rg"), N("Add", ["x", "r"], ["y"])], x1,
          [vi("y", None)], [init("st", np.zeros(0, np.float32)), init("li", np.float32(4)),
                            init("de", np.float32(1))]),
    "node 'rg' (Range): Range's start, limit and delta must be scalars")
# A Cast to int64 of a float beyond int64 (found by fuzz_onnx: an undefined conversion).
bad("cast_overflow",
    model([N("Cast", ["big"], ["bi"], name="cast", to=TensorProto.INT64),
           N("Reshape", ["x", "bi"], ["y"])], x1, [vi("y", None)],
          [init("big", np.array([4.6e27], np.float32))]),
    "node 'cast' (Cast): a constant (")
bad("bad_binding", model([N("Relu", ["x"], ["y"])], x1, [vi("y", None)], []),
    "no input of that name", bind="nope=1x4")
bad("expand_huge", model([N("Expand", ["x", "s"], ["y"], name="ex")], [vi("x", [4, 1])],
                        [vi("y", None)], [init("s", np.array([4, 100000], np.int64))]),
    "copies along one axis")
bad("state_of_ids", model([N("Add", ["x", "x2"], ["y"], name="add")],
                         [vi("x", [4]), vi("x2", [4], TensorProto.INT64)], [vi("y", None)], []),
    "run as state")
bad("two_outputs", model([N("Relu", ["x"], ["y"]), N("Neg", ["x"], ["z"])], x1,
                        [vi("y", None), vi("z", None)], []),
    "2 outputs; tierbench graphs have one (besides the present KV caches of a decode step)")
bad("past_grown_by_prefill",
    model([N("MatMul", ["x", "w"], ["k"]), N("Reshape", ["k", "s"], ["k4"]),
           N("Concat", ["past", "k4"], ["present"], axis=2), N("Relu", ["present"], ["y"])],
          [vi("x", [3, 4]), vi("past", [1, 1, 2, 4])], [vi("y", None)],
          [init("w", rnd(4, 4)), init("s", np.array([1, 1, 3, 4], np.int64))]),
    "grown by 3 tokens at once")

# An external-data model that is fine: the same conv as conv_relu, weights beside it.
m = onnx.load(os.path.join(OUT, "conv_relu.onnx"))
onnx.save(m, os.path.join(OUT, "conv_relu_external.onnx"), save_as_external_data=True,
          all_tensors_to_one_file=True, location="conv_relu_external.weights", size_threshold=0)
cases.append(dict(cases[0], name="conv_relu_external", src="conv_relu"))

json.dump({"cases": cases, "hostile": hostile}, open(os.path.join(OUT, "manifest.json"), "w"),
          indent=1)
