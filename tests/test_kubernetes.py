"""Issue 21, point 6: the Kubernetes manifests (deploy/kubernetes) are valid against the
Kubernetes API's schemas (kubernetes-validate, offline) and fit the product: each service runs
more than one replica with liveness and readiness probes, sized resources and a disruption
budget; the migration Job runs `outcomes migrate all`; every setting given is one a service
reads; every metric an alert asks for is one the services export. No cluster runs here, so
this is the check a `kubectl apply --dry-run` would otherwise make, and more."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.claims.settings import ClaimsSettings
from services.cli import _parser
from services.ledger.settings import LedgerSettings
from services.metrics.settings import MetricsSettings
from shared.settings import CommonSettings

ROOT = Path(__file__).parent.parent / "deploy" / "kubernetes"
BASE, PRODUCTION = ROOT / "base", ROOT / "overlays" / "production"
KUBERNETES_VERSION = "1.30.0"
SETTINGS = {"claims": ClaimsSettings, "ledger": LedgerSettings, "metrics": MetricsSettings}
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}  # custom resources: checked by hand


def _documents(folder: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


DOCUMENTS = _documents(BASE) + _documents(PRODUCTION)


def _of(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in DOCUMENTS if d["kind"] == kind}


def _known_settings() -> set[str]:
    known = {f"OUTCOMES_{name.upper()}" for name in CommonSettings.model_fields}
    for service, settings in SETTINGS.items():
        known |= {f"{service.upper()}_{name.upper()}" for name in settings.model_fields}
    return known


@pytest.mark.parametrize(
    "document",
    [d for d in DOCUMENTS if d["kind"] not in OPERATOR_KINDS],
    ids=lambda d: f"{d['kind']}/{d['metadata']['name']}",
)
def test_each_manifest_is_valid_against_the_kubernetes_schema(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_kustomizations_name_every_file_and_only_files_that_exist() -> None:
    base = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert sorted(base["resources"]) == sorted(
        p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    production = yaml.safe_load((PRODUCTION / "kustomization.yaml").read_text())
    for resource in production["resources"]:
        assert (PRODUCTION / resource).exists(), resource
    images = {c["image"].split(":")[0] for d in _of("Deployment").values()
              for c in d["spec"]["template"]["spec"]["containers"]}  # fmt: skip
    assert {i["name"] for i in production["images"]} == images == {"outcomes"}
    for replicas in production["replicas"]:
        assert replicas["name"] in _of("Deployment") and replicas["count"] > 1
    secrets = {s["name"] for s in production["secretGenerator"]}
    assert secrets == {"outcomes-secrets", "outcomes-prometheus"}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_service_runs_replicated_probed_sized_and_protected(name: str) -> None:
    deployment = _of("Deployment")[name]
    spec = deployment["spec"]
    assert spec["replicas"] > 1  # the followers' leases make that safe
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    command = container["command"]
    assert command[:3] == ["outcomes", "serve", name] and "--migrate" not in command
    _parser().parse_args(command[1:])
    port = SETTINGS[name]().port
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    resources = container["resources"]
    assert resources["requests"]["memory"] and resources["requests"]["cpu"]
    limit_mib = int(resources["limits"]["memory"].removesuffix("Mi"))
    assert 256 <= limit_mib <= 1024  # above the benchmarks' peak RSS (docs/performance.md)
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"] == labels
    service = _of("Service")[name]
    assert service["spec"]["selector"] == labels
    assert service["spec"]["ports"][0]["port"] == port
    budget = _of("PodDisruptionBudget")[name]
    assert budget["spec"]["selector"]["matchLabels"] == labels
    assert budget["spec"]["minAvailable"] < spec["replicas"]
    sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources == {"outcomes-config", "outcomes-secrets"}


def test_the_migration_job_migrates_every_store() -> None:
    job = _of("Job")["outcomes-migrate"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["outcomes", "migrate", "all"]
    _parser().parse_args(container["command"][1:])


def test_every_setting_given_is_one_a_service_reads() -> None:
    config = _of("ConfigMap")["outcomes-config"]["data"]
    example = (PRODUCTION / "secrets.env.example").read_text()
    secret = set(re.findall(r"^(\w+)=", example, re.MULTILINE))
    assert set(config) | secret <= _known_settings()
    assert {
        "OUTCOMES_SIGNING_KEY",
        "OUTCOMES_PSEUDONYM_KEY",
        "OUTCOMES_PERSONAL_DATA_KEY",
    } <= secret
    assert {f"{name.upper()}_DATABASE_URL" for name in SETTINGS} <= secret
    for key in ("LEDGER_CLAIMS_URL", "METRICS_CLAIMS_URL"):
        assert config[key] == f"http://claims:{ClaimsSettings().port}"
    assert config["METRICS_LEDGER_URL"] == f"http://ledger:{LedgerSettings().port}"


def test_the_scrape_and_the_alerts_name_what_the_services_export() -> None:
    monitor = _of("ServiceMonitor")["outcomes"]
    [endpoint] = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert endpoint["authorization"]["credentials"]["name"] == "outcomes-prometheus"
    for service in _of("Service").values():
        labels = service["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    source = (
        "\n".join(p.read_text() for p in (Path(__file__).parent.parent / "services").rglob("*.py"))
        + (Path(__file__).parent.parent / "shared" / "telemetry.py").read_text()
    )
    rules = [r for g in _of("PrometheusRule")["outcomes"]["spec"]["groups"] for r in g["rules"]]
    assert len(rules) >= 5
    for rule in rules:
        assert rule["alert"].startswith("Outcomes") and rule["annotations"]["summary"]
        for metric in re.findall(r"\b(outcomes_[a-z_]+)", rule["expr"]):
            exported = re.sub(r"_(total|bucket|count|sum)$", "", metric)
            assert f'"{exported}"' in source, f"{rule['alert']}: {metric} is not exported"
