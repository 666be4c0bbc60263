"""Provider metadata, read by Airflow through the ``apache_airflow_provider`` entry point.

Declares the ``lakever`` connection type (its form in the Airflow UI), the modules that
hold hooks, operators, sensors and triggers, the extra links, and the ``lakefs://`` asset
URI scheme.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_lakever import __version__

_INTEGRATION = "lakever"
_PACKAGE = "airflow_provider_lakever"


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ``ProvidersManager`` expects.

    :return: a dict following Airflow's ``provider_info.schema.json``.
    """
    return {
        "package-name": "airflow-provider-lakever",
        "name": "lakever",
        "description": (
            "Branch-per-run data pipelines on a lakeFS-compatible server: create a branch "
            "per DAG run, commit, check, merge atomically, and roll back."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://docs.lakefs.io/",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {"integration-name": _INTEGRATION, "python-modules": [f"{_PACKAGE}.hooks.lakever"]}
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    f"{_PACKAGE}.operators.branch",
                    f"{_PACKAGE}.operators.commit",
                    f"{_PACKAGE}.operators.merge",
                    f"{_PACKAGE}.operators.revert",
                    f"{_PACKAGE}.operators.objects",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [f"{_PACKAGE}.sensors.file", f"{_PACKAGE}.sensors.commit"],
            }
        ],
        "triggers": [
            {"integration-name": _INTEGRATION, "python-modules": [f"{_PACKAGE}.triggers.lakever"]}
        ],
        "connection-types": [
            {
                "hook-class-name": f"{_PACKAGE}.hooks.lakever.LakeverHook",
                "hook-name": "lakever",
                "connection-type": "lakever",
                "conn-fields": {
                    "ui_base_url": {
                        "label": "UI base URL",
                        "description": "Where links to commits, branches and diffs point; "
                        "defaults to the endpoint's host.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "verify_tls": {
                        "label": "Verify TLS certificates",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                    "ca_bundle": {
                        "label": "CA bundle path",
                        "description": "A PEM file to verify the server certificate with.",
                        "schema": {"type": ["string", "null"]},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Endpoint URL",
                        "login": "Access key ID",
                        "password": "Secret access key",
                    },
                    "placeholders": {
                        "host": "http://localhost:8000",
                        "login": "AKIAIOSFODNN7EXAMPLE",
                        "password": "secret access key (masked)",
                    },
                },
            }
        ],
        "extra-links": [
            f"{_PACKAGE}.links.lakever.LakeverCommitLink",
            f"{_PACKAGE}.links.lakever.LakeverBranchLink",
            f"{_PACKAGE}.links.lakever.LakeverDiffLink",
        ],
        "asset-uris": [
            {
                "schemes": ["lakefs"],
                "handler": f"{_PACKAGE}.assets.lakefs.sanitize_uri",
                "factory": f"{_PACKAGE}.assets.lakefs.create_asset",
            }
        ],
    }
