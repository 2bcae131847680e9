"""The catalog service: content, listings and search, the access projection, entitled playback."""
