"""Shared test configuration.

The fixtures (database_url, amqp_url, redis_url, s3_settings, pg_schema, db_pool, queue_prefix,
redis_prefix, s3_bucket, storage) come from the `codex_platform.testing` pytest plugin, which the
platform library registers as a pytest11 entry point; nothing needs importing here.
"""
