"""The machine a benchmark or an export ran on: speed figures from different kinds of CPU do not compare.

INT8 inference runs several times faster where the CPU has int8 dot products, and bf16 training runs many times
slower than fp32 where it lacks native bf16 (figures: docs/serving-performance.md, docs/training-performance.md).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# the CPU extensions that decide the speed of what the benchmarks time: INT8 matmuls and bf16 training
# (asimddp: Arm's int8 dot product)
FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "asimddp")
# int8 dot-product instructions: without them ONNX Runtime's blockwise int8 matmuls lose to fp32 ones
INT8_DOT_PRODUCT = frozenset({"avx512_vnni", "avx_vnni", "asimddp"})
# native bf16 arithmetic: without it PyTorch emulates bf16 and CPU training runs ~18x slower than in fp32
NATIVE_BF16 = frozenset({"avx512_bf16", "amx_bf16"})
CPUINFO = Path("/proc/cpuinfo")


def cpu_fields(cpuinfo: str | None = None) -> dict[str, str]:
    """The first processor's ``/proc/cpuinfo`` fields (empty where there is no such file)."""
    if cpuinfo is None:
        cpuinfo = CPUINFO.read_text() if CPUINFO.is_file() else ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def has_int8_dot_product(cpuinfo: str | None = None) -> bool:
    """Whether the CPU multiplies int8 vectors in one instruction (AVX-512 VNNI, AVX-VNNI, Arm dotprod)."""
    return bool(_flags(cpu_fields(cpuinfo)) & INT8_DOT_PRODUCT)


def has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU computes in bf16 itself (AVX-512 BF16 or AMX: Intel Sapphire Rapids, AMD Zen 4 and later)."""
    return bool(_flags(cpu_fields(cpuinfo)) & NATIVE_BF16)


def describe(cpuinfo: str | None = None) -> str:
    """E.g. ``AMD EPYC, 2 cores, avx2 avx512f avx512_vnni``; from ``/proc/cpuinfo`` where there is one."""
    fields = cpu_fields(cpuinfo)
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = _flags(fields)
    present = [feature for feature in FEATURES if feature in flags]
    return f"{model}, {os.cpu_count()} cores, {' '.join(present) if present else 'none of ' + '/'.join(FEATURES)}"


def _flags(fields: dict[str, str]) -> set[str]:
    """The CPU's extensions: x86 lists them as ``flags``, Arm as ``Features``."""
    return set((fields.get("flags") or fields.get("Features") or "").split())
