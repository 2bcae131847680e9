"""Per-consumer settings, with Cloudflare Queues' names, defaults and bounds."""

from __future__ import annotations

from dataclasses import dataclass

from codex_bus.errors import check_delay

__all__ = ["ConsumerSettings"]


@dataclass(frozen=True)
class ConsumerSettings:
    """How a consumer batches, retries and dead-letters.

    - `max_batch_size` (1..100): most messages handed to a handler at once.
    - `max_batch_timeout` (0..60 s): longest wait for a batch to fill once its first message is in.
    - `max_retries` (0..100): retries after the first attempt; a message that fails
      `max_retries + 1` times goes to the dead-letter queue.
    - `retry_delay` (0..43200 s): delay of a retry that names none itself.
    - `dead_letter_queue`: queue name (unprefixed) for dead letters; default `<queue>.dlq`.
    - `max_concurrency` (1..): batches handled at the same time by this process.
    """

    max_batch_size: int = 10
    max_batch_timeout: float = 5.0
    max_retries: int = 3
    retry_delay: int = 0
    dead_letter_queue: str | None = None
    max_concurrency: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch_size <= 100:
            raise ValueError(f"max_batch_size must be 1..100, got {self.max_batch_size}")
        if not 0 <= self.max_batch_timeout <= 60:
            raise ValueError(f"max_batch_timeout must be 0..60 seconds, got {self.max_batch_timeout}")
        if not 0 <= self.max_retries <= 100:
            raise ValueError(f"max_retries must be 0..100, got {self.max_retries}")
        check_delay(self.retry_delay)
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {self.max_concurrency}")

    @property
    def prefetch(self) -> int:
        """Deliveries in flight: every running batch plus the one being filled meanwhile."""
        return self.max_batch_size * (self.max_concurrency + 1)
