"""compose.yaml, the gateway and deploy/k8s describe the same suite: every service, its probes, its
ports and images, only the gateway and the consoles published, and no secret value committed.

`docker compose config` needs a Docker engine; where there is none (this machine, CI) the file is
parsed and checked here instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"auth": 8001, "catalog": 8002, "upload": 8003, "media-dispatch": 8004, "purchase": 8005}
ROUTES = {
    "/auth": "auth",
    "/.well-known": "auth",
    "/content": "catalog",
    "/uploads": "upload",
    "/assets": "media-dispatch",
    "/webhooks/runpod": "media-dispatch",
    "/purchases": "purchase",
    "/webhooks/stripe": "purchase",
}
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "API_KEY", "ACCESS_KEY")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((ROOT / "deploy/k8s/kustomization.yaml").read_text())
    documents: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        path = ROOT / "deploy/k8s" / resource
        assert path.is_file(), f"kustomization lists {resource}, which does not exist"
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def test_compose_runs_each_service_as_migrate_api_and_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, port in SERVICES.items():
        api, worker, migrate = services[name], services[f"{name}-worker"], services[f"{name}-migrate"]
        for part in (api, worker, migrate):
            assert part["build"]["args"]["SERVICE"] == name
            assert part["image"] == f"codex/{name}"
        assert api["command"] == ["serve", "--host", "0.0.0.0", "--port", str(port)]
        assert worker["command"] == ["worker"] and migrate["command"] == ["migrate"]
        assert f"127.0.0.1:{port}/readyz" in " ".join(api["healthcheck"]["test"])
        assert api["depends_on"][f"{name}-migrate"] == {"condition": "service_completed_successfully"}
        assert "edge" in api["networks"] and "edge" not in worker["networks"]


def test_only_the_gateway_and_the_consoles_are_published(compose: dict[str, Any]) -> None:
    published = {name: svc["ports"] for name, svc in compose["services"].items() if "ports" in svc}
    assert published == {
        "gateway": ["8080:8080"],
        "rabbitmq": ["15672:15672"],
        "minio": ["9000:9000", "9001:9001"],
    }


def test_services_trust_forwarded_addresses_from_the_gateway_alone(compose: dict[str, Any]) -> None:
    gateway_ip = compose["services"]["gateway"]["networks"]["edge"]["ipv4_address"]
    for name in SERVICES:
        assert compose["services"][name]["environment"]["FORWARDED_ALLOW_IPS"] == gateway_ip


def test_the_stand_ins_and_the_worker_are_in_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["runpod-local"]["build"]["args"]["SERVICE"] == "runpod-local"
    assert services["stripe-local"]["build"]["args"]["SERVICE"] == "stripe-local"
    assert services["gpu-worker-nvidia"]["profiles"] == ["nvidia"]
    purchase = services["purchase"]["environment"]
    assert purchase["STRIPE_API_BASE"] == "http://stripe-local:8011"
    assert (
        purchase["STRIPE_WEBHOOK_SECRET"] == services["stripe-local"]["environment"]["STRIPE_WEBHOOK_SECRET"]
    )
    assert services["media-dispatch"]["environment"]["RUNPOD_API_BASE"].startswith("http://runpod-local:8010")


def caddy_routes() -> dict[str, str]:
    text = (ROOT / "deploy/gateway/Caddyfile").read_text()
    found = re.findall(r"handle (\S+?)\*? \{\s*reverse_proxy ([\w-]+):(\d+)", text)
    return {path.rstrip("/*"): f"{host}:{port}" for path, host, port in found}


def test_the_gateway_routes_each_prefix_to_its_service() -> None:
    routes = caddy_routes()
    assert routes == {prefix: f"{svc}:{SERVICES[svc]}" for prefix, svc in ROUTES.items()}


def test_every_service_has_api_worker_migration_hpa_and_probes(k8s: list[dict[str, Any]]) -> None:
    deployments, jobs = by_kind(k8s, "Deployment"), by_kind(k8s, "Job")
    hpas, services = by_kind(k8s, "HorizontalPodAutoscaler"), by_kind(k8s, "Service")
    for name, port in SERVICES.items():
        (api,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert api["image"] == f"codex/{name}"
        assert api["ports"] == [{"name": "http", "containerPort": port}]
        assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert api["resources"]["requests"] and api["resources"]["limits"]
        (worker,) = deployments[f"{name}-worker"]["spec"]["template"]["spec"]["containers"]
        assert worker["args"] == ["worker"] and worker["image"] == f"codex/{name}"
        (migrate,) = jobs[f"{name}-migrate"]["spec"]["template"]["spec"]["containers"]
        assert migrate["args"] == ["migrate"]
        assert hpas[name]["spec"]["scaleTargetRef"]["name"] == name
        assert services[name]["spec"]["ports"][0]["port"] == port


def test_k8s_images_and_ports_agree_with_compose(compose: dict[str, Any], k8s: list[dict[str, Any]]) -> None:
    deployments = by_kind(k8s, "Deployment")
    for name in SERVICES:
        (api,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert api["image"] == compose["services"][name]["image"]
        assert api["args"] == compose["services"][name]["command"]


def test_the_ingress_routes_like_the_gateway(k8s: list[dict[str, Any]]) -> None:
    (ingress,) = by_kind(k8s, "Ingress").values()
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert {p["path"]: p["backend"]["service"]["name"] for p in paths} == ROUTES


def test_only_the_ingress_reaches_the_apis(k8s: list[dict[str, Any]]) -> None:
    policies = by_kind(k8s, "NetworkPolicy")
    apis = policies["apis-from-ingress-only"]["spec"]
    assert apis["podSelector"]["matchLabels"] == {"app.kubernetes.io/component": "api"}
    (rule,) = apis["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]


def test_no_secret_value_is_committed(k8s: list[dict[str, Any]]) -> None:
    template = yaml.safe_load((ROOT / "deploy/k8s/secret.template.yaml").read_text())
    assert template["stringData"] and all(value == "" for value in template["stringData"].values())
    for document in k8s:
        assert document["kind"] != "Secret", "secrets are made outside the repository"
        if document["kind"] == "ConfigMap":
            assert not [key for key in document["data"] if any(w in key for w in SECRET_WORDS)]
