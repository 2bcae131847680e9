"""Local RunPod-compatible serverless endpoint (development and tests; state in memory)."""
