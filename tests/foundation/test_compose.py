"""The compose stack's structure: what `docker compose up` would run, checked without Docker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_COMPONENTS = {
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_stack_has_every_production_service(services: dict[str, dict[str, Any]]) -> None:
    expected = {"postgres", "minio", "redis", "lakever-1", "lakever-2", "lakever-proxy"}
    assert expected | AIRFLOW_COMPONENTS <= set(services)


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    one_shot = {"minio-init", "airflow-init"}
    missing = [
        name
        for name, spec in services.items()
        if name not in one_shot and not spec.get("healthcheck", {}).get("test")
    ]
    assert missing == []


def test_start_order_waits_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name in ("lakever-1", "lakever-2"):
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["minio-init"]["condition"] == "service_completed_successfully"
    for name in AIRFLOW_COMPONENTS:
        deps = services[name]["depends_on"]
        assert deps["lakever-proxy"]["condition"] == "service_healthy"
        assert deps["airflow-init"]["condition"] == "service_completed_successfully"


def test_every_dependency_names_a_service(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        for dep in spec.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_every_build_context_and_dockerfile_exists(services: dict[str, dict[str, Any]]) -> None:
    builds = [spec["build"] for spec in services.values() if "build" in spec]
    assert builds, "the stack builds the server and Airflow images from this repository"
    for build in builds:
        context = ROOT / build["context"]
        assert context.is_dir()
        assert (context / build.get("dockerfile", "Dockerfile")).is_file()


def test_every_image_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        image = spec.get("image", "")
        if "build" in spec:
            continue
        assert re.search(r":[\w.\-]+$", image), f"{name} has no image tag"
        assert not image.endswith(":latest"), f"{name} floats on :latest"


def test_every_bind_mount_exists_and_named_volumes_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes", {}))
    for name, spec in services.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_airflow_runs_celery_and_mounts_the_example_dags(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in AIRFLOW_COMPONENTS:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        assert "./example_dags:/opt/airflow/dags:ro" in services[name]["volumes"]


def test_server_replicas_share_postgres_and_s3(services: dict[str, dict[str, Any]]) -> None:
    envs = [services[name]["environment"] for name in ("lakever-1", "lakever-2")]
    assert envs[0] == envs[1]
    assert envs[0]["LAKEVER_METADATA__URL"].startswith("postgresql://")
    assert envs[0]["LAKEVER_BLOCKSTORE__TYPE"] == "s3"
    assert envs[0]["LAKEVER_BLOCKSTORE__S3__ENDPOINT_URL"] == "http://minio:9000"


def test_proxy_balances_both_replicas() -> None:
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    assert "server lakever-1:8000" in conf
    assert "server lakever-2:8000" in conf
    assert "proxy_request_buffering off" in conf


def test_server_settings_named_in_compose_exist() -> None:
    from lakever_server.config import Settings

    compose_env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-lakever-server"][
        "environment"
    ]
    for key in compose_env:
        parts = key.removeprefix("LAKEVER_").lower().split("__")
        model: Any = Settings
        for part in parts:
            assert part in model.model_fields, f"{key} names no setting"
            annotation = model.model_fields[part].annotation
            model = annotation if isinstance(annotation, type) else None
