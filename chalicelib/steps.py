"""The pipeline's steps: the state that runs each one and the Lambda function behind it.

``statemachines/etl.asl.json`` names these states and invokes these functions
through ``${<LogicalId>FunctionArn}`` placeholders; ``app.py`` registers the
functions under these names, the deployment and the local runtime create them
(a test checks the state machine against this module).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chalicelib.errors import TransientError


@dataclass(frozen=True)
class Step:
    """One task of the state machine and the function it invokes.

    Attributes
    ----------
    state
        The ASL state's name.
    function
        The Lambda function's name in ``app.py`` (Chalice deploys it as
        ``<app>-<stage>-<function>``).
    """

    state: str
    function: str

    @property
    def logical_id(self) -> str:
        """Chalice's CloudFormation logical id of the function (``Ingest``)."""
        return logical_id(self.function)

    @property
    def placeholder(self) -> str:
        """The ASL placeholder that receives the function's ARN."""
        return f"{self.logical_id}FunctionArn"


INGEST: Final = Step("Ingest", "ingest")
VALIDATE: Final = Step("Validate", "validate")  # in each chunk's iteration of CHUNKS_STATE
TRANSFORM: Final = Step("Transform", "transform")  # in each chunk's iteration of CHUNKS_STATE
VERDICT: Final = Step("Verdict", "verdict")
OUTPUT: Final = Step("Output", "output")
PIPELINE_STEPS: Final = (INGEST, VALIDATE, TRANSFORM, VERDICT, OUTPUT)
CHUNK_STEPS: Final = (VALIDATE, TRANSFORM)
CHUNKS_STATE: Final = "ProcessChunks"  # the Distributed Map that runs CHUNK_STEPS for each chunk of the source
FAILURE_HANDLER: Final = "on_execution_failed"  # invoked by EventBridge, not by the state machine
API_HANDLER: Final = "api_handler"  # Chalice's name for the REST API's function


def logical_id(function: str) -> str:
    """Chalice's logical id of a function: CamelCase of its name (``APIHandler`` for the API)."""
    return "APIHandler" if function == API_HANDLER else "".join(part.capitalize() for part in function.split("_"))


# --- the retry policy -----------------------------------------------------------------------------
# Every Lambda task of every state machine carries exactly LAMBDA_RETRIES (a test checks), the first
# retrier that matches an error applying.  Lambda refusing an invocation for want of concurrency is
# waited out for minutes, jittered so that throttled chunks do not return together: a Map fans out
# beyond the functions' reserved concurrency whenever several big files arrive at once.  Lambda's
# other service errors and the project's TransientError are retried after 2, 4 and 8 seconds; data
# errors never.
THROTTLE_RETRY: Final = {
    "ErrorEquals": ["Lambda.TooManyRequestsException"],
    "IntervalSeconds": 2,
    "BackoffRate": 2,
    "MaxAttempts": 12,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}
LAMBDA_RETRY: Final = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        TransientError.__name__,
    ],
    "IntervalSeconds": 2,
    "BackoffRate": 2,
    "MaxAttempts": 3,
}
LAMBDA_RETRIES: Final = [THROTTLE_RETRY, LAMBDA_RETRY]
# Service integrations (DynamoDB, SQS, SNS) fail with States.TaskFailed, whatever the cause.
SERVICE_RETRY: Final = {
    "ErrorEquals": ["States.TaskFailed"],
    "IntervalSeconds": 2,
    "BackoffRate": 2,
    "MaxAttempts": 3,
}
