"""Output: Snappy Parquet in hourly partitions, named so reruns overwrite."""
from chalicelib.output.stage import output

__all__ = ["output"]
