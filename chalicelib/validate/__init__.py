"""Validate: check every staged record against its dataset's JSON Schema."""
from chalicelib.validate.stage import validate

__all__ = ["validate"]
