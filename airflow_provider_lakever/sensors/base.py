"""What the lakever sensors share: connection, hook and links (the mixin), poke, deferral."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf

from airflow_provider_lakever.exceptions import LakeverError
from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.operators.base import LakeverTaskMixin

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger


class LakeverBaseSensor(LakeverTaskMixin, BaseSensorOperator):
    """Base of the lakever sensors; deferrable by default when Airflow says so.

    A sensor says what it looks for once, in :meth:`find_match` (a poke) and
    :meth:`make_trigger` (the same look-up, polled in the triggerer), and shapes its result
    in :meth:`on_found`; poking, deferring and resuming are done here.

    :param repository: the repository id (templated).
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :param deferrable: wait in the triggerer instead of a worker slot; defaults to
        ``[operators] default_deferrable``. Otherwise ``mode`` (poke or reschedule) applies.
    """

    template_fields: Sequence[str] = ("repository", "lakever_conn_id")
    ui_color = "#e6f2d9"

    def __init__(
        self,
        *,
        repository: str,
        lakever_conn_id: str = LakeverHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repository = repository
        self.lakever_conn_id = lakever_conn_id
        self.deferrable = deferrable
        self.lakever_link_state = {}

    def find_match(self, context: Context) -> dict[str, Any] | None:
        """Look once: what the condition found, or ``None`` while it does not hold."""
        raise NotImplementedError

    def make_trigger(self) -> BaseTrigger:
        """The trigger that polls the same condition in the triggerer."""
        raise NotImplementedError

    def poke(self, context: Context) -> PokeReturnValue:
        found = self.find_match(context)
        if found is None:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self.on_found(context, found))

    def execute(self, context: Context) -> Any:
        """Poke (or reschedule) as usual; deferrable: look once, then wait in the triggerer."""
        if not self.deferrable:
            return super().execute(context)
        result = self.poke(context)
        if result.is_done:
            return result.xcom_value
        self.defer(
            trigger=self.make_trigger(),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )
        return None  # pragma: no cover - defer raises

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: succeed with its finding or fail with its error."""
        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "the trigger returned no event")
            raise LakeverError(f"{self.task_id} failed while deferred: {message}")
        return self.on_found(context, {k: v for k, v in event.items() if k != "status"})

    def on_found(self, context: Context, found: dict[str, Any]) -> Any:
        """Turn what the condition found into the task's XCom result."""
        raise NotImplementedError
