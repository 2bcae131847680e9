"""The outbox relay's SQL, over the `outbox` table of the service's schema (the "bus" migration)."""

from __future__ import annotations

__all__ = ["CLAIM", "CLEANUP", "MARK_FAILED", "MARK_SENT", "STATS"]

CLAIM = """
SELECT seq, message_id, event_type, body, work_queue, delay_seconds, created_at FROM outbox
WHERE sent_at IS NULL AND available_at <= clock_timestamp()
ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
"""
MARK_SENT = """
UPDATE outbox SET sent_at = clock_timestamp() WHERE seq = ANY($1::bigint[])
RETURNING extract(epoch FROM sent_at - created_at)::float8
"""
# The exponent is capped: 2^attempts overflows a float8 at about 1,024 attempts (3.5 days of a
# type that no queue takes), and the error would abort the claim.
MARK_FAILED = """
UPDATE outbox SET attempts = attempts + 1, last_error = left($2, 2000),
    available_at = clock_timestamp()
        + least($3::float8 * power(2::float8, least(attempts, 30)), $4::float8) * interval '1 second'
WHERE seq = $1
"""
STATS = """
SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8
FROM outbox WHERE sent_at IS NULL
"""
CLEANUP = """
DELETE FROM outbox WHERE seq IN (
    SELECT seq FROM outbox WHERE sent_at < clock_timestamp() - $1::interval
    ORDER BY sent_at LIMIT $2 FOR UPDATE SKIP LOCKED)
"""
