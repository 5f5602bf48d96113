"""The Kubernetes manifests validate offline against the schemas of a pinned Kubernetes release, hang together
(names, ports, labels, probes), and ship the current locustfile."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is a dev extra")

KUBERNETES_VERSION = "1.35.0"  # shipped by kubernetes-validate 1.37 (dev extra), in strict mode
DEPLOY = Path(__file__).parents[2] / "deploy" / "kubernetes"


def _documents() -> dict[tuple[str, str], dict]:
    docs = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def test_every_manifest_validates_strictly():
    docs = _documents()
    assert len(docs) >= 10
    for (kind, name), doc in docs.items():
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{kind}/{name}: {exc.message} at {list(exc.path)}")


def test_the_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    files = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == "qrbench"


def _container(doc: dict) -> dict:
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    return container


def test_service_probes_resources_and_autoscaler():
    docs = _documents()
    service = _container(docs[("Deployment", "qrbench")])
    assert service["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert service["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert service["resources"]["requests"]["memory"] == "1Gi" and service["resources"]["limits"]["memory"] == "2560Mi"
    assert "0.0.0.0" in service["args"]
    selector = docs[("Service", "qrbench")]["spec"]["selector"]
    assert selector.items() <= docs[("Deployment", "qrbench")]["spec"]["template"]["metadata"]["labels"].items()
    hpa = docs[("HorizontalPodAutoscaler", "qrbench")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "qrbench" and hpa["metrics"][0]["resource"]["name"] == "cpu"


def test_locust_master_and_workers_agree():
    docs = _documents()
    master = _container(docs[("Job", "locust-master")])["args"]
    workers = docs[("Deployment", "locust-worker")]
    worker = _container(workers)["args"]
    assert master[master.index("--remote-workers") + 1] == str(workers["spec"]["replicas"])
    assert worker[worker.index("--master-host") + 1] == "locust-master"
    assert worker[worker.index("--master-port") + 1] == master[master.index("--master-port") + 1] == "5557"
    assert "http://qrbench:8000" in master
    suite = _container(docs[("Job", "qrbench-suite")])
    assert suite["args"][:2] == ["qrbench", "suite"] and suite["volumeMounts"][0]["mountPath"] == "/outputs"


def test_the_configmap_holds_the_current_locustfile():
    spec = importlib.util.spec_from_file_location("make_locust_configmap", DEPLOY / "make_locust_configmap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.configmap_text(module.LOCUSTFILE.read_text())
    assert (DEPLOY / "locust-configmap.yaml").read_text() == expected, (
        "The locustfile changed: run `python deploy/kubernetes/make_locust_configmap.py`."
    )
    data = yaml.safe_load(expected)["data"]["locustfile.py"]
    assert data == module.LOCUSTFILE.read_text()
