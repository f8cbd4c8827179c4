import pytest

from nlpops.utils import machine
from nlpops.utils.resolvers import cpu_precision, run_slug, wandb_offline


def test_run_slug_is_stable_and_filesystem_safe():
    assert run_slug("") == "default"
    assert run_slug("trainer.max_epochs=5") == "trainer.max_epochs-5"
    assert run_slug("data.source=/tmp/a b.csv,seed=1") == "data.source-_tmp_a_b.csv__seed-1"
    long = ",".join(f"key{i}=value{i}" for i in range(30))
    assert run_slug(long) == run_slug(long) and len(run_slug(long)) == 80
    assert run_slug(long) != run_slug(long + ",x=1")


@pytest.mark.parametrize(
    ("env", "offline"),
    [
        ({}, True),
        ({"WANDB_API_KEY": "k"}, False),
        ({"WANDB_MODE": "online"}, False),
        ({"WANDB_MODE": "offline", "WANDB_API_KEY": "k"}, True),
    ],
)
def test_wandb_is_offline_unless_a_key_or_online_mode_is_set(monkeypatch, env, offline):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert wandb_offline() is offline


@pytest.mark.parametrize(
    ("flags", "precision"),
    [("avx2 avx512f avx512_bf16", "bf16-mixed"), ("avx2 amx_tile amx_bf16", "bf16-mixed"), ("avx2", "32-true")],
)
def test_cpu_training_uses_bf16_only_where_the_cpu_has_it(monkeypatch, tmp_path, flags, precision):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test CPU\nflags\t\t: fpu sse2 {flags}\n")
    monkeypatch.setattr(machine, "CPUINFO", cpuinfo)
    assert cpu_precision() == precision
