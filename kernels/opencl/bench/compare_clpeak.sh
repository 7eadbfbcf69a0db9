#!/bin/sh
# Runs tierbench's OpenCL probe and clpeak on the same device(s) and prints the figures side by
# side with their ratio (the probe follows clpeak's kernels, so they should agree within ~15%).
#   compare_clpeak.sh <build dir> [--quick]
set -eu
build=${1:?usage: compare_clpeak.sh <build dir> [--quick]}
shift
command -v clpeak >/dev/null || { echo "clpeak not installed (Debian package clpeak)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/kernels/opencl/bench/opencl_probe_dump" "$@" > "$tmp/probe.json"
clpeak --compute-sp --global-bandwidth --transfer-bandwidth --kernel-latency > "$tmp/clpeak.txt" 2>&1 || true
python3 - "$tmp/probe.json" "$tmp/clpeak.txt" <<'PY'
import json, re, sys
probe = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
def section(title):
    # The lines of one clpeak section ("Global memory bandwidth", "Single-precision compute", ...).
    m = re.search(re.escape(title) + r".*?\n(.*?)(?:\n\s*\n|\Z)", text, re.S)
    return m.group(1) if m else ""
def clpeak(title, key):
    m = re.search(r"^\s*" + re.escape(key) + r"\s*:\s*([0-9.]+)", section(title), re.M)
    return float(m.group(1)) if m else None
def latency():
    m = re.search(r"Kernel launch latency\s*:\s*([0-9.]+)", text)
    return float(m.group(1)) if m else None
rows = []
for d in probe.get("devices", []):
    m = d.get("measured", {})
    print(f"device: {d['name']}")
    pk = m.get("peak_f32_gflops", {}).get("by_width", {})
    for w, tag in [("1", "float  "), ("2", "float2 "), ("4", "float4 "), ("8", "float8 "), ("16", "float16")]:
        rows.append((f"peak f32 {tag} GFLOP/s", pk.get(w, {}).get("median"), clpeak("Single-precision compute", tag.strip())))
    rows.append(("global bandwidth (float4) GB/s", m.get("global_bw_gbps", {}).get("median"), clpeak("Global memory bandwidth", "float4")))
    rows.append(("h2d (enqueueWriteBuffer) GB/s", m.get("h2d_gbps", {}).get("median"), clpeak("Transfer bandwidth", "enqueueWriteBuffer")))
    rows.append(("d2h (enqueueReadBuffer) GB/s", m.get("d2h_gbps", {}).get("median"), clpeak("Transfer bandwidth", "enqueueReadBuffer")))
    rows.append(("dispatch latency us", m.get("dispatch_latency_us", {}).get("median"), latency()))
    break  # clpeak's text is parsed for its first device only
print(f"{'figure':34} {'tierbench':>10} {'clpeak':>10} {'ratio':>7}")
for name, a, b in rows:
    r = f"{a / b:7.2f}" if a and b else "      -"
    print(f"{name:34} {a if a is not None else float('nan'):10.2f} {b if b is not None else float('nan'):10.2f} {r}")
PY
