#!/usr/bin/env bash
# The device checks of a session that is lent a GPU machine, as one prepared script.
#
#   scripts/gpu_session.sh pack   here: bundles build/release/tierbench with the shared libraries
#                                 it links (Debian's) and the Vulkan loader packages into .gpu/
#                                 and .gl/ (git-ignored through .git/info/exclude), to be carried
#   scripts/gpu_session.sh run    there (OUT set by the device tool): loaders and ICDs, then
#                                 list, probe, tune (Vulkan and OpenCL), the quick suite, larger
#                                 tiers on the GPU backends and oneDNN's int8 tiers one process
#                                 each (malloc checks on); results.db, report.html and the log
#                                 come back under $OUT
#
# Every step has its own timeout so that one hung driver does not cost the whole lease.
set -u
cd "$(dirname "$0")/.."
case "${1:-}" in
  pack)
    set -e
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || printf '/.gpu/\n/.gl/\n' >>.git/info/exclude
    rm -rf /tmp/tb-bundle && mkdir -p /tmp/tb-bundle/tb/bin /tmp/tb-bundle/tb/lib .gpu .gl
    cp build/release/tierbench /tmp/tb-bundle/tb/bin/
    # Every shared library but the C runtime, which the device's newer one serves.
    ldd build/release/tierbench | awk '/=> \// {print $3}' |
      grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|libz)\.so' |
      xargs -I{} cp -L {} /tmp/tb-bundle/tb/lib/
    cp -L /lib/x86_64-linux-gnu/libvulkan.so.1 /tmp/tb-bundle/tb/lib/
    tar -C /tmp/tb-bundle -cJf .gpu/tb.tar.xz tb
    mkdir -p /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $o update >/dev/null
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    du -sh .gpu .gl
    echo "carry .gpu and .gl; command: bash scripts/gpu_session.sh run > \$OUT/log.txt 2>&1"
    ;;
  run)
    OUT=${OUT:-/tmp/out}
    mkdir -p "$OUT"
    log() { echo "== $(date +%T) $*"; }
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    mkdir -p /tmp/tbx && tar -C /tmp/tbx -xJf .gpu/tb.tar.xz
    export LD_LIBRARY_PATH=/tmp/tbx/tb/lib:/usr/local/nvidia/lib64:/usr/local/nvidia/lib
    export XDG_DATA_HOME=/tmp/tbdata XDG_CACHE_HOME=/tmp/tbcache
    T=/tmp/tbx/tb/bin/tierbench
    DB=$OUT/results.db
    nvidia-smi -L 2>/dev/null
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f $icd ] && export VK_DRIVER_FILES=$icd
    cl=$(ls /usr/local/nvidia/lib64/libnvidia-opencl.so.1 2>/dev/null | head -1)
    if [ -n "$cl" ]; then
      mkdir -p /tmp/icd && echo "$cl" >/tmp/icd/nvidia.icd && export OCL_ICD_VENDORS=/tmp/icd
    fi
    log list; timeout 30 $T --db $DB list
    log probe; timeout 90 $T --db $DB probe --quick
    log tune; timeout 150 $T --db $DB tune --backend vulkan,opencl --suite quick --budget 120
    log quick; timeout 200 $T --db $DB run --backend vulkan,opencl,onednn --timeout 80
    log tiers; timeout 200 $T --db $DB run --backend vulkan,opencl,onednn --timeout 60 \
      --max-time 1 -w resnet50:b1:f32 -w mobilenetv2:b8:f32 -w bert-base:seq128:f32 \
      -w resnet50:b1:int8 -w person-detect:b1:int8 -w llm-135m:decode:kv128:int8
    md=$(ls /lib/x86_64-linux-gnu/libc_malloc_debug.so.0 2>/dev/null)
    for w in person-detect:b1:int8 mobilenetv2:b1:int8 resnet50:b1:int8; do
      log "onednn $w alone, malloc checks"
      LD_PRELOAD=$md MALLOC_CHECK_=3 timeout 90 $T --db $DB run --no-isolate --backend onednn \
        --max-time 0.5 -w $w | grep -E "^$w"
      echo "rc=${PIPESTATUS[0]}"
    done
    log report; timeout 30 $T --db $DB report -o "$OUT/report.html"
    log done
    ;;
  *)
    echo "usage: scripts/gpu_session.sh pack|run" >&2
    exit 2
    ;;
esac
