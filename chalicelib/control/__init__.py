"""The control plane: what the REST API and the CLI do with runs and dead letters."""
