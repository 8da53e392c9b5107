"""The I/O objects a stage needs, built once per Lambda container."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import boto3
from botocore.config import Config

from chalicelib.config import Settings
from chalicelib.datasets import DatasetRegistry
from chalicelib.storage.deadletters import DeadLetterQueue
from chalicelib.storage.executions import ExecutionStore
from chalicelib.storage.notifications import Notifier
from chalicelib.storage.objects import ObjectStore
from chalicelib.storage.runs import RunStore
from chalicelib.storage.staging import StagingStore


@dataclass(frozen=True)
class Services:
    """Everything a stage touches besides its input.

    Attributes
    ----------
    settings
        Resource names.
    objects, staging, runs, notifier
        S3, staged batches, the run table and the alerts topic.
    datasets
        Schemas and transform specs.
    executions
        Executions of the ETL state machine.
    deadletters
        The dead-letter queue.
    """

    settings: Settings
    objects: ObjectStore
    staging: StagingStore
    runs: RunStore
    notifier: Notifier
    datasets: DatasetRegistry
    executions: ExecutionStore
    deadletters: DeadLetterQueue

    @classmethod
    def create(cls, settings: Settings, session: boto3.session.Session | None = None) -> Services:
        session = session or boto3.session.Session()
        endpoint = settings.endpoint_url or None
        # SigV4 everywhere: presigned uploads into SSE-KMS buckets require it.
        objects = ObjectStore(session.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4")))
        return cls(
            settings=settings,
            objects=objects,
            staging=StagingStore(objects, settings.processed_bucket),
            runs=RunStore(session.client("dynamodb", endpoint_url=endpoint), settings.runs_table),
            notifier=Notifier(session.client("sns", endpoint_url=endpoint), settings.alerts_topic_arn),
            datasets=DatasetRegistry(settings.schemas_dir),
            executions=ExecutionStore(session.client("stepfunctions", endpoint_url=endpoint), settings.state_machine_arn),
            deadletters=DeadLetterQueue(session.client("sqs", endpoint_url=endpoint), settings.dead_letter_queue_url),
        )


def default_services() -> Services:
    """Services for the environment of this invocation (cached: clients are slow to build)."""
    return _services_for(Settings.from_environment())


# Keyed by the settings, endpoint included: an environment naming other resources or another endpoint
# (several functions, or several local emulations, in one process) gets clients of its own.
@lru_cache(maxsize=16)
def _services_for(settings: Settings) -> Services:
    return Services.create(settings)
