"""The local monitoring stack (docker/compose.yaml): the pieces point at each other, the dashboard at real metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from nlpops.serving.app import create_app
from nlpops.serving.settings import Settings
from tests.cli import REPO_ROOT
from tests.ship.dockerfiles import DOCKER, env

MONITORING = REPO_ROOT / "monitoring"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
RULES = sorted((MONITORING / "rules").glob("*.yml"))
RULE_TESTS = sorted((MONITORING / "rules" / "tests").glob("*.yml"))
PROMETHEUS = yaml.safe_load((MONITORING / "prometheus.yml").read_text())


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


RECORDED = {rule["record"] for path in RULES for rule in rules(path) if "record" in rule}


def exported_samples(artifact: Path, route: str, texts: list[str]) -> list[Sample]:
    """The samples of /metrics once the API serving ``artifact`` has answered ``texts`` and one bad request."""
    with TestClient(create_app(Settings(artifact_dir=artifact))) as client:
        assert client.post(route, json={"texts": texts}).status_code == 200
        assert client.post(route, json={"text": " "}).status_code == 422
        exposition = client.get("/metrics").text
    return [sample for family in text_string_to_metric_families(exposition) for sample in family.samples]


def generation_samples(artifact: Path) -> list[Sample]:
    """The samples of /metrics once the API serving a generation ``artifact`` has generated and refused a prompt."""
    with TestClient(create_app(Settings(artifact_dir=artifact))) as client:
        assert client.post("/generate", json={"prompt": "HAMLET.", "max_new_tokens": 4}).status_code == 200
        assert client.post("/generate", json={"prompt": ""}).status_code == 422
        exposition = client.get("/metrics").text
    return [sample for family in text_string_to_metric_families(exposition) for sample in family.samples]


@pytest.fixture(scope="module")
def samples(tiny_artifact: Path, tiny_ner_artifact: Path, tiny_generation_artifact: Path) -> list[Sample]:
    """What any task's API exports once it has answered."""
    exported = exported_samples(tiny_artifact, "/predict", ["a witty film", "a dull film"])
    exported += exported_samples(tiny_ner_artifact, "/ner", ["the film maria lopez was dull osaka", "the plot"])
    return exported + generation_samples(tiny_generation_artifact)


def check_exported(exprs: list[str], samples: list[Sample], where: str) -> None:
    """Metric names and the label values they are filtered on (route="/ner", le="0.0") are the API's own, and
    recorded series (``nlpops:...``) are recorded by a rule."""
    exported = {sample.name for sample in samples}
    used = {name for query in exprs for name in re.findall(r"nlpops_\w+", query)}
    assert used, where
    assert used <= exported, f"{where} queries metrics the API does not export: {used - exported}"
    recorded = {name for query in exprs for name in re.findall(r"nlpops:[\w:]+", query)}
    assert recorded <= RECORDED, f"{where} queries series no rule records: {recorded - RECORDED}"
    for query in exprs:
        for name, matchers in re.findall(r"(nlpops_\w+)\{([^}]*)\}", query):
            wanted = dict(re.findall(r'(\w+)="([^"]*)"', matchers))
            assert any(s.name == name and wanted.items() <= s.labels.items() for s in samples), (
                f"{where}: no {name} sample has {wanted}"
            )


def test_every_dashboard_query_uses_metrics_the_api_exports(samples: list[Sample]) -> None:
    assert DASHBOARDS
    for path in DASHBOARDS:
        check_exported(queries(json.loads(path.read_text())), samples, path.name)


def test_every_alert_rule_uses_metrics_the_api_exports(samples: list[Sample]) -> None:
    """The rules of each file together (a reference file only records constants)."""
    alerts = [rule["alert"] for path in RULES for rule in rules(path) if "alert" in rule]
    assert {"NlpopsHighErrorRate", "NlpopsHighLatencyP99", "NlpopsLowConfidenceShare", "NlpopsLabelShareMoved"} <= set(
        alerts
    )
    check_exported([rule["expr"] for path in RULES for rule in rules(path)], samples, "monitoring/rules")


def test_prometheus_loads_the_rules_the_stack_mounts() -> None:
    [pattern] = PROMETHEUS["rule_files"]
    [mount] = [v for v in COMPOSE["services"]["prometheus"]["volumes"] if v.split(":")[1] == str(Path(pattern).parent)]
    assert (DOCKER / mount.split(":")[0]).resolve() == MONITORING / "rules"
    assert sorted((MONITORING / "rules").glob(Path(pattern).name)) == RULES


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (Debian: apt-get install prometheus)")
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    """The rules parse, and the alerts fire (and stay quiet) on the series of monitoring/rules/tests."""
    assert RULE_TESTS
    for command in (["check", "rules", *map(str, RULES)], ["test", "rules", *map(str, RULE_TESTS)]):
        done = subprocess.run(["promtool", *command], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboards_use_the_provisioned_data_source() -> None:
    provisioned = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    [source] = provisioned["datasources"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in COMPOSE["services"]
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        used = [panel["datasource"] for panel in dashboard["panels"]]
        used += [target["datasource"] for panel in dashboard["panels"] for target in panel["targets"]]
        assert all(ds == {"type": "prometheus", "uid": source["uid"]} for ds in used), path.name


def test_prometheus_scrapes_the_api_service_on_its_port() -> None:
    [job] = PROMETHEUS["scrape_configs"]
    [target] = job["static_configs"][0]["targets"]
    service, port = target.split(":")
    api = COMPOSE["services"][service]
    image_env = env(DOCKER / Path(api["build"]["dockerfile"]).name, {"NLPOPS_VARIANT": "int8"})
    assert image_env["NLPOPS_PORT"] == port and image_env["NLPOPS_HOST"] == "0.0.0.0"
    assert job["metrics_path"] == "/metrics"


def test_every_file_the_stack_mounts_is_in_the_repository() -> None:
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (DOCKER / source).resolve().exists(), source
    grafana = COMPOSE["services"]["grafana"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    [mount] = [v for v in grafana["volumes"] if v.split(":")[1] == str(Path(home).parent)]
    assert (DOCKER / mount.split(":")[0] / Path(home).name).resolve().is_file()
    assert all(port.startswith("127.0.0.1:") for s in COMPOSE["services"].values() for port in s.get("ports", []))
