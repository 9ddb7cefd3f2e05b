"""``internet web``: a local page that animates dropped files (docs/web.md)."""
