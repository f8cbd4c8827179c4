"""The machine a benchmark ran on, in one line: speed figures from different kinds of CPU do not compare.

On 2 cores, one INT8 inference took 2.2 ms on an AMD EPYC with AVX-512 VNNI and 9.1 ms on one with AVX2 only,
and bf16 training ran 18x slower than fp32 where the CPU lacks native bf16 (see README).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# the x86 extensions that decide the speed of what the benchmarks time: INT8 matmuls and bf16 training
FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
CPUINFO = Path("/proc/cpuinfo")


def describe(cpuinfo: str | None = None) -> str:
    """E.g. ``AMD EPYC, 2 cores, avx2 avx512f avx512_vnni``; from ``/proc/cpuinfo`` where there is one."""
    if cpuinfo is None:
        cpuinfo = CPUINFO.read_text() if CPUINFO.is_file() else ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    present = [feature for feature in FEATURES if feature in flags]
    return f"{model}, {os.cpu_count()} cores, {' '.join(present) if present else 'none of ' + '/'.join(FEATURES)}"
