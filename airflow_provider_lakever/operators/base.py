"""What every lakever operator (and, through the mixin, sensor) shares: connection, hook, links."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_lakever.hooks.lakever import LakeverHook


class LakeverTaskMixin:
    """What lakever operators and sensors share: the hook, and the refs their links show.

    The class using it sets ``repository``, ``lakever_conn_id`` and ``lakever_link_state``
    in its own keyword-only ``__init__`` (Airflow documents each operator's arguments there).
    """

    repository: str
    lakever_conn_id: str
    lakever_link_state: dict[str, str]

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


class LakeverBaseOperator(LakeverTaskMixin, BaseOperator):
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
        self.lakever_link_state = {}
