"""Which server failures are worth retrying, and how long to keep trying.

A lakeFS-compatible server answers a semantic error (bad name, missing branch, merge
conflict) with a 4xx: sending the same request again gives the same answer, so those are
never retried. Connection failures, timeouts, 429 and 5xx are transient: the hook retries
them with exponential backoff and full jitter, bounded both by attempts and by elapsed time.

A retried request that changes state (commit, merge, revert) may have reached the server
before the connection broke, so the hook pairs those with a *recovery* probe: before
sending again it asks the server whether the first attempt already took effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity
import urllib3.exceptions
from lakefs_sdk.exceptions import ApiException

T = TypeVar("T")

log = logging.getLogger(__name__)

#: HTTP statuses that say "try again later" rather than "this request is wrong".
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a failure that may succeed when the request is sent again.

    :param exc: an exception raised by a ``lakefs_sdk`` call.
    :return: ``True`` for connection errors, timeouts, 429 and 5xx; ``False`` for any
        other status (a semantic 4xx) and for programming errors.
    """
    if isinstance(exc, ApiException):
        status = exc.status or 0
        return status in TRANSIENT_STATUSES or 500 <= status <= 599
    return isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the hook's retries of transient failures.

    :param attempts: total attempts, the first included (1 disables retries).
    :param max_elapsed: seconds after which no new attempt starts.
    :param initial_backoff: upper bound of the first random wait, in seconds; each later
        wait bound doubles ("full jitter" exponential backoff).
    :param max_backoff: cap of a single wait, in seconds.
    """

    attempts: int = 5
    max_elapsed: float = 60.0
    initial_backoff: float = 0.5
    max_backoff: float = 8.0

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> RetryPolicy:
        """Build a policy from connection extras (``retry_attempts``, ``retry_max_elapsed``...).

        :param extra: the connection's extra dict.
        """
        default = cls()
        return cls(
            attempts=int(extra.get("retry_attempts", default.attempts)),
            max_elapsed=float(extra.get("retry_max_elapsed", default.max_elapsed)),
            initial_backoff=float(extra.get("retry_initial_backoff", default.initial_backoff)),
            max_backoff=float(extra.get("retry_max_backoff", default.max_backoff)),
        )

    def _kwargs(self, what: str) -> dict[str, Any]:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s failed transiently (attempt %d of %d): %s; retrying in %.2fs",
                what,
                state.attempt_number,
                self.attempts,
                _describe(exc),
                wait,
            )

        return {
            "retry": tenacity.retry_if_exception(is_transient),
            "stop": tenacity.stop_after_attempt(self.attempts)
            | tenacity.stop_after_delay(self.max_elapsed),
            "wait": tenacity.wait_random_exponential(
                multiplier=self.initial_backoff, max=self.max_backoff
            ),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def retrying(self, what: str) -> tenacity.Retrying:
        """A synchronous ``tenacity.Retrying`` for one logical request.

        :param what: a short description of the request, for the log.
        """
        return tenacity.Retrying(**self._kwargs(what))

    def async_retrying(self, what: str) -> tenacity.AsyncRetrying:
        """An ``asyncio`` flavour of :meth:`retrying`, for triggers.

        :param what: a short description of the request, for the log.
        """
        return tenacity.AsyncRetrying(**self._kwargs(what))

    def call(
        self,
        what: str,
        request: Callable[[], T],
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """Send ``request``, retrying transient failures.

        :param what: a short description of the request, for the log.
        :param request: the call to make.
        :param recover: for requests that change state: called before every *re*-send; a
            non-``None`` answer means the earlier attempt took effect and is returned as is.
        """
        for attempt in self.retrying(what):
            with attempt:
                if recover is not None and attempt.retry_state.attempt_number > 1:
                    found = recover()
                    if found is not None:
                        log.info("%s had already taken effect before the failure", what)
                        return found
                return request()
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason or ''}".strip()
    return repr(exc)
