"""The UI's views, one module per kind of page; each is a ``pages.View``."""
