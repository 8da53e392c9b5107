"""Validate: check every staged record against its dataset's JSON Schema."""
from chalicelib.validate.stage import VALID_SCHEMA, validate

__all__ = ["VALID_SCHEMA", "validate"]
