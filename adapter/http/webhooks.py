"""Webhooks: each event POSTed to the configured receivers, signed as the Standard
Webhooks spec says, retried with backoff, every attempt in the delivery log.
(Filled in by the events work of issue 13.)"""

from __future__ import annotations

from adapter.runtime import Runtime


class WebhookWorker:
    """Delivers the clinic's events to its webhooks in a background thread."""

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> WebhookWorker | None:
        """The worker for the webhooks ``[http]`` configures; None when there are none."""
        return None

    def start(self) -> None:
        """Start delivering."""

    def stop(self) -> None:
        """Stop, finishing the attempt in hand."""
