"""Reading source files into records: the formats, their limits, and the staged form of what was read.

Ingest plans a file's chunks with it; validate reads each chunk with it.
"""
