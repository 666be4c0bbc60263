"""What the example DAGs share: settings, sample data, run branches, Parquet over the S3 gateway.

The example DAGs import this package from their DAGs folder (Airflow puts the folder on
``sys.path``); ``.airflowignore`` keeps the DAG processor from parsing it as DAGs.
"""

from __future__ import annotations

from lakever_examples.settings import (
    CONN_ID,
    DEFAULT_REPOSITORY,
    REPOSITORY_PARAM,
    S3Settings,
    s3_settings,
)

__all__ = ["CONN_ID", "DEFAULT_REPOSITORY", "REPOSITORY_PARAM", "S3Settings", "s3_settings"]
