#!/bin/sh
# Runs a command as it runs on an older x86-64 CPU, natively at this machine's speed:
#
#   scripts/as-cpu.sh avx2   COMMAND...   no AVX-512 and no VNNI (AVX2 and FMA stay)
#   scripts/as-cpu.sh avx512 COMMAND...   AVX-512 without VNNI
#
# Every program the command starts sees the CPU without those extensions and chooses the kernels
# it would choose there: ONNX Runtime's 8-bit kernels sum in 16-bit pairs as on AVX2, x264 and
# libav take their AVX2 code. What stays this machine's is the speed of each instruction, so
# figures measured this way show what the older code paths cost here, not what an older CPU
# takes. It needs Linux's CPUID faulting (the `cpuid_fault` flag in /proc/cpuinfo); see
# scripts/cpu/as_cpu.c. `make bench-compare ISA=avx2` uses it.
set -eu
isa=${1:?usage: scripts/as-cpu.sh avx2|avx512 COMMAND...}
shift
[ $# -gt 0 ] || { echo "usage: scripts/as-cpu.sh avx2|avx512 COMMAND..." >&2; exit 2; }
case $isa in avx2 | avx512) ;; *) echo "as-cpu: $isa: expected avx2 or avx512" >&2; exit 2 ;; esac
if ! grep -qw cpuid_fault /proc/cpuinfo; then
  echo "as-cpu: this CPU has no CPUID faulting (cpuid_fault), so it cannot pose as another" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/../target/as-cpu/as_cpu.so
if [ ! -f "$lib" ] || [ "$here/cpu/as_cpu.c" -nt "$lib" ]; then
  mkdir -p "$(dirname "$lib")"
  cc -O2 -shared -fPIC -o "$lib.tmp" "$here/cpu/as_cpu.c"
  mv "$lib.tmp" "$lib"
fi
AS_CPU=$isa LD_PRELOAD=$lib${LD_PRELOAD:+:$LD_PRELOAD} exec "$@"
