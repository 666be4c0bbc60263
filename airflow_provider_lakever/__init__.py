"""airflow-provider-lakever: branch-per-run data pipelines for Apache Airflow 3.

The provider speaks only the lakeFS REST API (through ``lakefs-sdk``), so the same DAG
drives the bundled lakever server and a real lakeFS installation.

Modules follow Airflow's provider layout: ``hooks``, ``operators``, ``sensors``,
``triggers``, ``links``, ``assets``, plus ``decorators`` for the branch-per-run task group.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
