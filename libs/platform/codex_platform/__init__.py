"""The shared platform of the Codex services.

Modules, imported where needed (nothing heavy is imported here):
`settings` (typed settings from the environment), `logging` (structlog with secret redaction),
`db` (asyncpg pools per schema, the migration runner), `storage` (S3 presigned URLs, multipart),
`http` (the Litestar app factory), `testing` (the pytest plugin and its fixtures).
"""
