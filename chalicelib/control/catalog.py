"""The datasets the pipeline knows."""
from __future__ import annotations

from typing import Any

from chalicelib.control.errors import NotFoundError
from chalicelib.datasets import UnknownDatasetError
from chalicelib.services import Services


def dataset_view(services: Services, name: str) -> dict[str, Any]:
    try:
        dataset = services.datasets.get(name)
    except UnknownDatasetError as error:
        raise NotFoundError(str(error)) from error
    return {
        "name": dataset.name,
        "schema": dataset.schema,
        "transform": {
            "timestamp_field": dataset.timestamp_field,
            "max_invalid_ratio": dataset.max_invalid_ratio,
            "derived": dataset.derived,
        },
    }


def datasets_view(services: Services) -> dict[str, Any]:
    return {"datasets": [dataset_view(services, name) for name in services.datasets.names()]}
