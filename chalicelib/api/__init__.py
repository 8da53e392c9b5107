"""The REST API: Chalice blueprints over :mod:`chalicelib.control`."""
