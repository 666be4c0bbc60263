"""DAG files the provider's integration tests run with ``dag.test()`` (the DAGs folder)."""
