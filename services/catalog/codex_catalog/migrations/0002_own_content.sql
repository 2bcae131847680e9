-- GET /content/mine: a creator's own content in every status, newest created first.
CREATE INDEX content_creator_created ON content (creator_id, created_at DESC, id DESC);
