"""The provider registers with Airflow: entry point, schema-valid info, connection form."""

from __future__ import annotations

import importlib
import json
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_lakever.get_provider_info import get_provider_info
from airflow_provider_lakever.hooks.lakever import LakeverHook


def _import(dotted: str) -> object:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_entry_point_resolves_to_get_provider_info() -> None:
    (entry,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_provider_lakever")
    ]
    assert entry.load() is get_provider_info


def test_provider_info_matches_airflows_schema() -> None:
    schema_path = Path(airflow.__file__).parent / "provider_info.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_module_and_class_named_in_provider_info_imports() -> None:
    info = get_provider_info()
    modules = [
        module
        for kind in ("hooks", "operators", "sensors", "triggers")
        for entry in info[kind]
        for module in entry["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)
    classes = [c["hook-class-name"] for c in info["connection-types"]] + info["extra-links"]
    for asset in info["asset-uris"]:
        classes += [asset["handler"], asset["factory"]]
    for dotted in classes:
        assert callable(_import(dotted)), dotted


def test_connection_type_declares_the_lakever_form() -> None:
    (conn,) = get_provider_info()["connection-types"]
    assert conn["connection-type"] == LakeverHook.conn_type == "lakever"
    assert set(conn["conn-fields"]) >= {"ui_base_url", "verify_tls"}
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["relabeling"] == {
        "host": "Endpoint URL",
        "login": "Access key ID",
        "password": "Secret access key",
    }
    assert LakeverHook.get_ui_field_behaviour() == behaviour


def test_providers_manager_lists_the_provider_and_its_connection_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-lakever" in manager.providers
    assert manager.field_behaviours["lakever"]["relabeling"]["host"] == "Endpoint URL"


def test_task_runtime_resolves_the_hook_and_the_lakefs_asset_scheme() -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    runtime = ProvidersManagerTaskRuntime()
    hook_info = runtime.hooks["lakever"]
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_provider_lakever.hooks.lakever.LakeverHook"
    assert "lakefs" in runtime.asset_uri_handlers
    assert "lakefs" in runtime.asset_factories
