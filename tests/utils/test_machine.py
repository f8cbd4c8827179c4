import os

from nlpops.utils.machine import describe, has_int8_dot_product, has_native_bf16

AVX2_ONLY = """processor\t: 0
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 avx avx2 fma

processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 avx avx2 fma
"""


def test_the_machine_line_names_the_cpu_and_the_extensions_that_set_the_speed():
    assert describe(AVX2_ONLY) == f"AMD EPYC, {os.cpu_count()} cores, avx2"
    vnni = AVX2_ONLY.replace("avx2 fma", "avx2 avx512f avx512_vnni avx512_bf16 fma")
    assert describe(vnni).endswith("cores, avx2 avx512f avx512_vnni avx512_bf16")


def test_without_cpuinfo_it_still_says_something():
    line = describe("")
    assert "cores, none of avx2/" in line and not line.startswith(",")


ARM_DOTPROD = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
"""


def test_int8_dot_products_are_vnni_on_x86_and_dotprod_on_arm():
    assert not has_int8_dot_product(AVX2_ONLY)
    assert has_int8_dot_product(AVX2_ONLY.replace("avx2 fma", "avx2 avx512f avx512_vnni fma"))
    assert has_int8_dot_product(AVX2_ONLY.replace("avx2 fma", "avx2 avx_vnni fma"))  # Alder Lake and later
    assert has_int8_dot_product(ARM_DOTPROD)
    assert not has_int8_dot_product(ARM_DOTPROD.replace(" asimddp", ""))
    assert describe(ARM_DOTPROD).endswith("cores, asimddp")
    assert not has_int8_dot_product("")


def test_native_bf16_is_avx512_bf16_or_amx():
    assert not has_native_bf16(AVX2_ONLY)
    assert has_native_bf16(AVX2_ONLY.replace("avx2 fma", "avx2 avx512f avx512_bf16 fma"))  # Zen 4, Cooper Lake
    assert has_native_bf16(AVX2_ONLY.replace("avx2 fma", "avx2 amx_bf16 amx_tile fma"))
    assert not has_native_bf16(ARM_DOTPROD)
    assert not has_native_bf16("")
