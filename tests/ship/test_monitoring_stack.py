"""The local monitoring stack (docker/compose.yaml): the pieces point at each other, the dashboard at real metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

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


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def exported_samples(artifact: Path, route: str, texts: list[str]) -> list[Sample]:
    """The samples of /metrics once the API serving ``artifact`` has answered ``texts`` and one bad request."""
    with TestClient(create_app(Settings(artifact_dir=artifact))) as client:
        assert client.post(route, json={"texts": texts}).status_code == 200
        assert client.post(route, json={"text": " "}).status_code == 422
        exposition = client.get("/metrics").text
    return [sample for family in text_string_to_metric_families(exposition) for sample in family.samples]


def test_every_dashboard_query_uses_metrics_the_api_exports(tiny_artifact: Path, tiny_ner_artifact: Path) -> None:
    """Metric names and the label values they are filtered on (route="/ner", le="0.0"), for either task's API."""
    samples = exported_samples(tiny_artifact, "/predict", ["a witty film", "a dull film"])
    samples += exported_samples(tiny_ner_artifact, "/ner", ["the film maria lopez was dull osaka", "the plot"])
    exported = {sample.name for sample in samples}
    assert DASHBOARDS
    for path in DASHBOARDS:
        exprs = queries(json.loads(path.read_text()))
        used = {name for query in exprs for name in re.findall(r"nlpops_\w+", query)}
        assert used, path.name
        assert used <= exported, f"{path.name} queries metrics the API does not export: {used - exported}"
        for query in exprs:
            for name, matchers in re.findall(r"(nlpops_\w+)\{([^}]*)\}", query):
                wanted = dict(re.findall(r'(\w+)="([^"]*)"', matchers))
                assert any(s.name == name and wanted.items() <= s.labels.items() for s in samples), (
                    f"{path.name}: no {name} sample has {wanted}"
                )


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
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
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
