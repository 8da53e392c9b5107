"""Data quality of a run: its profile, the dataset's declared checks, and anomalies against its history."""
