"""Fixtures shared across test areas, registered once for the whole suite."""

pytest_plugins = ("tests.support.airflow_home",)
