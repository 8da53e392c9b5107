"""Validate: check every record of a chunk against its dataset's JSON Schema, and judge the whole file."""
from chalicelib.validate.stage import validate
from chalicelib.validate.verdict import verdict

__all__ = ["validate", "verdict"]
