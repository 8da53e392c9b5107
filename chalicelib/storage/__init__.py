"""Thin I/O classes over boto3 clients; each takes its client in the constructor."""
