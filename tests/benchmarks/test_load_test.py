"""The load test's baselines (real servers on 127.0.0.1, stopped here), its workloads by task, and how it reads and
reports wrk's figures."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import load_test
from nlpops import tasks
from nlpops.serving import ner
from nlpops.serving.classification import SERVING
from nlpops.serving.core import OnnxModel
from tests.local_servers import api_server, request

REVIEW = "a brilliant and charming movie"
TWEET = "the film Maria Lopez was witty and the plot Lisbon"
CLASSIFY = load_test.WORKLOADS[tasks.CLASSIFICATION]
TAG = load_test.WORKLOADS[tasks.TOKEN_CLASSIFICATION]

WRK_OUTPUT = """Running 20s test @ http://127.0.0.1:8000
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    71.18ms    9.86ms    1.13s    67.80%
  Latency Distribution
     50%   71.09ms
     75%   77.52ms
     90%  830.00us
     99%    1.20s
  3370 requests in 20.04s, 1.01MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 5
Requests/sec:    168.16
Transfer/sec:     69.01KB
"""


@pytest.mark.parametrize("server", ["naive-onnx-int8", "naive-pytorch"])
def test_each_naive_baseline_serves_the_models_predictions_over_http(
    server: str, tiny_classifier: Path, tiny_artifact: Path
) -> None:
    command = load_test.server_command(server, CLASSIFY.task, model_dir=tiny_classifier)
    process, url, cold_start = load_test.start_server(command, [f"NLPOPS_ARTIFACT_DIR={tiny_artifact}"], CLASSIFY)
    try:
        status, body = request(f"{url}/predict", json.dumps({"text": REVIEW}).encode())
        assert status == 200
        expected = SERVING.predict(OnnxModel.load(tiny_artifact), [REVIEW])[0]
        assert body["label"] == expected.label == max(body["scores"], key=body["scores"].get)
        assert sum(body["scores"].values()) == pytest.approx(1.0)
        if server == "naive-onnx-int8":  # the same INT8 model: the same scores, whatever the thread count
            assert body["scores"] == pytest.approx(expected.scores, abs=1e-5)
        assert request(f"{url}/predict", b'{"txt": "no text field"}')[0] == 422
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert cold_start > 0


@pytest.mark.parametrize("server", ["naive-onnx-int8", "naive-pytorch"])
def test_each_naive_ner_baseline_answers_the_models_entities_over_http(
    server: str, tiny_tagger: Path, tiny_ner_artifact: Path
) -> None:
    command = load_test.server_command(server, TAG.task, model_dir=tiny_tagger)
    process, url, _ = load_test.start_server(command, [f"NLPOPS_ARTIFACT_DIR={tiny_ner_artifact}"], TAG)
    try:
        status, body = request(f"{url}/ner", json.dumps({"text": TWEET}).encode())
        assert status == 200
        found = [(e["type"], e["text"], e["start"], e["end"]) for e in body["entities"]]
        [ours] = ner.SERVING.predict(OnnxModel.load(tiny_ner_artifact), [TWEET])
        assert found == [(e.type, e.text, e.start, e.end) for e in ours]
        assert found == [("person", "Maria Lopez", 9, 20), ("place", "Lisbon", 44, 50)]
        assert all(0 < e["score"] <= 1 for e in body["entities"])
        assert request(f"{url}/predict", json.dumps({"text": TWEET}).encode())[0] == 404  # the task's route only
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_naive_baseline_without_its_artifact_exits_with_one_line(tmp_path: Path) -> None:
    command = load_test.server_command("naive-onnx-int8", CLASSIFY.task, model_dir=tmp_path)
    env = {"NLPOPS_ARTIFACT_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_parse_wrk_reads_the_rate_the_percentiles_in_ms_and_the_errors() -> None:
    figures = load_test.parse_wrk(WRK_OUTPUT)
    assert figures["requests_per_s"] == 168.16
    assert figures["p50_ms"] == 71.09 and figures["p90_ms"] == pytest.approx(0.83) and figures["p99_ms"] == 1200.0
    assert figures["requests"] == 3370
    assert figures["non_2xx"] == 5
    assert figures["socket_errors"] == "connect 0, read 1, write 0, timeout 2"


def run(server: str, requests_per_s: float, p99_ms: float, cold_start_s: float) -> dict:
    """One run's figures as ``load_test.measure`` returns them."""
    figures = {"p50_ms": 1.0, "p90_ms": 2.0, "non_2xx": 0, "label": "defaults", "machine": "a CPU, 2 cores"}
    measured = {"requests_per_s": requests_per_s, "p99_ms": p99_ms, "cold_start_s": cold_start_s}
    return figures | measured | {"server": server}


def test_the_report_compares_each_servers_median_with_the_first_server() -> None:
    results = [
        run("nlpops", 200, 100.0, 0.9),
        run("naive-onnx-int8", 190, 150.0, 1.0),
        run("naive-onnx-int8", 170, 160.0, 0.8),
        run("nlpops", 220, 90.0, 0.7),
    ]
    lines = load_test.report(results).splitlines()
    assert lines[0] == "a CPU, 2 cores"
    assert sum(line.startswith("| nlpops | defaults |") for line in lines) == 2
    assert "| nlpops | 210 | 1.00 | 95.0 | 0.80 |" in lines
    assert "| naive-onnx-int8 | 180 | 0.86 | 155.0 | 0.90 |" in lines
    assert lines[-3:] == [  # ours over each baseline's medians: 210 / 180 requests/s, 95.0 / 155.0 ms
        "| nlpops against | requests/s: nlpops ÷ it | p99: nlpops ÷ it |",
        "|---|---:|---:|",
        "| naive-onnx-int8 | 1.17x | 0.61x |",
    ]


def test_the_report_of_one_server_has_no_comparison() -> None:
    lines = load_test.report([run("nlpops", 200, 100.0, 0.9) | {"cold_start_s": None}]).splitlines()
    assert lines[-1] == "| nlpops | defaults | 200 | 1.0 | 2.0 | 100.0 | 0 | n/a |"


@pytest.mark.parametrize(
    "argv",
    [
        ["--url", "http://127.0.0.1:8000", "--server", "nlpops"],
        ["--rounds", "0"],
        ["--server", "flask"],
        ["--env", "NLPOPS_WORKERS"],
    ],
)
def test_bad_arguments_get_a_usage_error(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["load_test.py", *argv])
    with pytest.raises(SystemExit) as exited:
        load_test.parse_args()
    assert exited.value.code == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sentences", "0"], "--sentences must be at least 1"),
        (["--sentences", "-3"], "--sentences must be at least 1"),
        (["--wrk-threads", "0"], "--wrk-threads and --sentences must be at least 1"),
        (["--connections", "1", "--wrk-threads", "2"], "--connections must be at least --wrk-threads"),
        (["--url", "127.0.0.1:8000"], "--url takes an http:// or https:// URL"),
        (["--url", "ftp://127.0.0.1/"], "--url takes an http:// or https:// URL"),
        (["--env", "NLPOPS_PORT=9000"], "--env cannot set NLPOPS_HOST or NLPOPS_PORT"),
        (["--env", "NLPOPS_HOST=0.0.0.0"], "--env cannot set NLPOPS_HOST or NLPOPS_PORT"),
    ],
)
def test_arguments_that_would_trip_wrk_or_the_harness_are_refused_up_front(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["load_test.py", *argv])
    with pytest.raises(SystemExit) as exited:
        load_test.parse_args()
    assert exited.value.code == 2
    assert message in capsys.readouterr().err.splitlines()[-1]


def test_https_urls_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["load_test.py", "--url", "https://xyz.lambda-url.eu-west-1.on.aws/"])
    assert load_test.parse_args().url == "https://xyz.lambda-url.eu-west-1.on.aws/"


needs_wrk = pytest.mark.skipif(not Path("/usr/bin/wrk").exists(), reason="wrk is not installed")


def offline_texts(monkeypatch: pytest.MonkeyPatch, workload: load_test.Workload, text: str) -> None:
    """Make ``workload`` send ``text`` over and over instead of fetching its real texts."""
    monkeypatch.setitem(load_test.WORKLOADS, workload.task, replace(workload, texts=lambda count: [text] * count))


@needs_wrk
def test_a_wrk_failure_is_one_error_line_with_wrks_own_message(tmp_path: Path) -> None:
    script = tmp_path / "post.lua"
    script.write_text(load_test.lua_script(CLASSIFY, [REVIEW]), encoding="utf-8")
    with pytest.raises(SystemExit) as exited:  # threads > connections: what parse_args now refuses up front
        load_test.run_wrk("http://127.0.0.1:9", script, connections=1, duration=1, threads=2)
    assert exited.value.code == "error: wrk exited with status 1: number of connections must be >= threads"


@needs_wrk
def test_an_unreachable_url_ends_the_run_with_one_error_line_and_no_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline_texts(monkeypatch, CLASSIFY, REVIEW)
    url = f"http://127.0.0.1:{load_test.free_port()}"  # nothing listens: wrk fails at once, no load
    argv = ["--url", url, "--duration", "1", "--sentences", "2", "--output", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", ["load_test.py", *argv])
    with pytest.raises(SystemExit) as exited:
        load_test.main()
    assert str(exited.value.code).startswith("error: wrk exited with status 1: unable to connect to 127.0.0.1:")
    assert "\n" not in str(exited.value.code)
    assert not (tmp_path / "load_test.jsonl").exists()


def test_rounds_against_a_url_run_that_many_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    measured: list[str | None] = []

    def fake_measure(args: object, workload: load_test.Workload, server: str | None, script: Path) -> dict:
        measured.append(server)
        return run("http://127.0.0.1:8000", 200, 100.0, 0.9)

    monkeypatch.setattr(load_test, "measure", fake_measure)
    offline_texts(monkeypatch, CLASSIFY, REVIEW)
    monkeypatch.setattr(load_test.shutil, "which", lambda name: f"/usr/bin/{name}")
    argv = ["--url", "http://127.0.0.1:8000", "--rounds", "3", "--sentences", "2", "--output", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", ["load_test.py", *argv])
    load_test.main()
    assert measured == [None, None, None]
    assert len((tmp_path / "load_test.jsonl").read_text().splitlines()) == 3


def test_the_artifacts_manifest_picks_the_workload(tiny_ner_artifact: Path, tiny_artifact: Path) -> None:
    assert load_test.workload_for(tiny_ner_artifact) is TAG and TAG.route == "/ner"
    assert load_test.workload_for(tiny_artifact) is CLASSIFY and CLASSIFY.route == "/predict"
    assert load_test.workload_for(None) is CLASSIFY  # --url alone: the route it always had


def test_a_missing_artifact_is_one_error_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        load_test.workload_for(tmp_path)
    assert str(exited.value.code).startswith(f"error: no model artifact at {tmp_path} (manifest.json missing)")


def test_ner_bodies_are_one_tweet_each_posted_to_ner() -> None:
    script = load_test.lua_script(TAG, ['@maria_l in Lisbon 🎬 "today"', "RT : osaka ]==] trick"])
    bodies = [line.strip()[4:-5] for line in script.splitlines() if line.startswith("  [==[")]
    assert [json.loads(body) for body in bodies] == [{"text": '@maria_l in Lisbon 🎬 "today"'}]  # ]==] would end it
    assert '  return wrk.format(nil, "/ner", nil, bodies[i])' in script.splitlines()


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["--artifact", "models/ner-onnx"], {}, Path.cwd() / "models/ner-onnx"),  # a path given: from here
        ([], {"NLPOPS_ARTIFACT_DIR": "models/ner-onnx"}, load_test.REPO_ROOT / "models/ner-onnx"),  # the servers'
        (["--env", "NLPOPS_ARTIFACT_DIR=/srv/a"], {"NLPOPS_ARTIFACT_DIR": "b"}, Path("/srv/a")),
        ([], {}, load_test.REPO_ROOT / "models/text-classifier-onnx"),  # what python -m nlpops.serving serves
        (["--url", "http://127.0.0.1:8000"], {"NLPOPS_ARTIFACT_DIR": "b"}, None),  # --url alone: /predict
    ],
)
def test_the_artifact_is_the_one_the_servers_would_serve(
    argv: list[str], environ: dict[str, str], expected: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NLPOPS_ARTIFACT_DIR", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["load_test.py", *argv])
    assert load_test.parse_args().artifact == expected


def test_the_artifact_named_twice_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--artifact", "models/ner-onnx", "--env", "NLPOPS_ARTIFACT_DIR=models/text-classifier-onnx"]
    monkeypatch.setattr(sys, "argv", ["load_test.py", *argv])
    with pytest.raises(SystemExit) as exited:
        load_test.parse_args()
    assert exited.value.code == 2
    assert "--artifact and --env NLPOPS_ARTIFACT_DIR both name the artifact" in capsys.readouterr().err


def test_naive_servers_get_the_task_and_the_default_checkpoint_unless_one_is_given(tmp_path: Path) -> None:
    assert load_test.server_command("nlpops", TAG.task) == [sys.executable, "-m", "nlpops.serving"]
    naive = load_test.server_command("naive-pytorch", TAG.task)
    assert naive[2:] == ["--engine", "pytorch", "--task", "token-classification"]
    assert load_test.server_command("naive-pytorch", TAG.task, tmp_path)[-2:] == ["--model-dir", str(tmp_path)]


@needs_wrk
def test_a_short_ner_run_posts_tweets_to_ner_and_gets_only_good_answers(
    tiny_ner_artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline_texts(monkeypatch, TAG, TWEET)
    with api_server(tiny_ner_artifact) as url:  # serves /ner only: a request anywhere else would be a 404
        argv = ["--url", url, "--artifact", str(tiny_ner_artifact), "--duration", "1", "--output", str(tmp_path)]
        monkeypatch.setattr(sys, "argv", ["load_test.py", *argv, "--sentences", "2", "--connections", "2"])
        load_test.main()
    [result] = [json.loads(line) for line in (tmp_path / "load_test.jsonl").read_text().splitlines()]
    assert result["task"] == "token-classification" and result["server"] == url
    assert result["requests"] > 0 and result["non_2xx"] == 0


@pytest.mark.slow
def test_ner_texts_are_the_held_out_tweets_of_the_default_split() -> None:
    tweets = load_test.held_out_tweets(500)
    assert len(tweets) == len(set(tweets)) == 231  # the whole test split, as the NER artifact's parity counts it
    assert all(tweet.strip() and len(tweet) <= 2000 for tweet in tweets)
    assert load_test.held_out_tweets(10) == tweets[::23][:10]
