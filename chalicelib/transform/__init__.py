"""Transform: typed columns, the dataset's derived fields, and enrichment."""
from chalicelib.transform.stage import transform

__all__ = ["transform"]
