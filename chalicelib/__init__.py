"""Stage logic of the serverless ETL pipeline.

``app.py`` wires these modules to Lambda functions; everything here is plain
Python that unit tests call without AWS.
"""
