"""What every lakever operator shares: the connection, the repository, the hook, links."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_lakever.hooks.lakever import LakeverHook


class LakeverBaseOperator(BaseOperator):
    """Base of the lakever operators.

    :param repository: the repository id (templated).
    :param lakever_conn_id: the Airflow connection to the server (templated).
    """

    template_fields: Sequence[str] = ("repository", "lakever_conn_id")
    ui_color = "#d9f2e6"

    def __init__(
        self,
        *,
        repository: str,
        lakever_conn_id: str = LakeverHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repository = repository
        self.lakever_conn_id = lakever_conn_id
        # Filled during execute; the extra links read it when the task finishes.
        self.lakever_link_state: dict[str, str] = {}

    @cached_property
    def hook(self) -> LakeverHook:
        """The hook for ``lakever_conn_id``."""
        return LakeverHook(self.lakever_conn_id)

    def remember_links(self, **refs: str | None) -> None:
        """Record what the extra links point at (commit, branch, diff refs)."""
        self.lakever_link_state = {
            "ui_base_url": self.hook.settings.ui_base_url,
            "repository": self.repository,
            **{key: value for key, value in refs.items() if value},
        }
