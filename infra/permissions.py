"""Who may do what: the one table the IAM policies are built from and the tests check.

Each grant names the code that needs it.  Resources are CloudFormation
expressions over the stack's logical ids; ``"*"`` appears only where the AWS
action supports no narrower resource, with the reason in ``why``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.keys import MANIFEST_ROOT, PROCESSED_ROOT, QUARANTINE_ROOT, RAW_PREFIX, STAGING_ROOT
from chalicelib.steps import API_HANDLER, CHUNKS_STATE, FAILURE_HANDLER, INGEST, OUTPUT, PIPELINE_STEPS, TRANSFORM, VALIDATE, VERDICT
from chalicelib.storage.runs import INDEX_ALL, INDEX_BY_DATASET, INDEX_BY_STATUS
from infra.naming import MACHINE_SUFFIX, name_in_stage


def ref(name: str) -> dict[str, str]:
    """``Ref`` of a resource or parameter."""
    return {"Ref": name}


def not_empty(value: Any) -> dict[str, Any]:
    """A condition: ``value`` (a parameter's ``Ref``, say) is not the empty string."""
    return {"Fn::Not": [{"Fn::Equals": [value, ""]}]}


def get_arn(logical_id: str) -> dict[str, Any]:
    """``Fn::GetAtt [logical_id, Arn]``."""
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def function_arn(name: str) -> dict[str, Any]:
    """A task function's ARN by the name Chalice gives it, ``serverless-etl-<stage>-<name>`` (known before it exists)."""
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:serverless-etl-${{Stage}}-{name}"}


def _objects(bucket: str, prefix: str) -> dict[str, Any]:
    return {"Fn::Sub": f"${{{bucket}.Arn}}/{prefix}*"}


TASK_FUNCTION_NAMES = tuple(step.function for step in PIPELINE_STEPS)
RAW = "RawBucket"
PROCESSED = "ProcessedBucket"
TABLE = "RunsTable"  # the stack's own run table
# The parameter naming the run table the stack uses: its own by default, or one restored from a backup (README, "Backup and
# disaster recovery").  Everything that uses the table names it by this parameter, never by the resource.
TABLE_NAME = "RunsTableName"
QUEUE = "DeadLetterQueue"
TOPIC = "AlertsTopic"
NOTIFICATIONS = "NotificationsTopic"
UNDELIVERED_EVENTS = "UndeliveredEventsQueue"
FAILED_INVOCATIONS = "FailedInvocationsQueue"
KEY = "DataKey"
MACHINE = "EtlStateMachine"

RAW_BUCKET_ARN = get_arn(RAW)
RAW_OBJECTS = _objects(RAW, RAW_PREFIX)
STAGING_OBJECTS = _objects(PROCESSED, f"{STAGING_ROOT}/")
QUARANTINE_OBJECTS = _objects(PROCESSED, f"{QUARANTINE_ROOT}/")
PROCESSED_OBJECTS = _objects(PROCESSED, f"{PROCESSED_ROOT}/")
MANIFEST_OBJECTS = _objects(PROCESSED, f"{MANIFEST_ROOT}/")
PROCESSED_BUCKET_ARN = get_arn(PROCESSED)
_TABLE_ARN = f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{{TABLE_NAME}}}"
TABLE_ARN = {"Fn::Sub": _TABLE_ARN}

def _index_arn(index: str) -> dict[str, str]:
    return {"Fn::Sub": f"{_TABLE_ARN}/index/{index}"}


TABLE_INDEXES = [_index_arn(index) for index in (INDEX_ALL, INDEX_BY_STATUS, INDEX_BY_DATASET)]
QUEUE_ARN = get_arn(QUEUE)
TOPIC_ARN = ref(TOPIC)
NOTIFICATIONS_ARN = ref(NOTIFICATIONS)
FAILED_INVOCATIONS_ARN = get_arn(FAILED_INVOCATIONS)
KEY_ARN = get_arn(KEY)
MACHINE_ARN = ref(MACHINE)
EXECUTIONS = {"Fn::Sub": f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:${{{MACHINE}.Name}}:*"}
# The machine's own role cannot name the machine (a cycle): these ARNs are built from the name it is given.
_STATES = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
MACHINE_NAME = name_in_stage("${Stage}", MACHINE_SUFFIX)
MACHINE_BY_NAME = {"Fn::Sub": f"{_STATES}:stateMachine:{MACHINE_NAME}"}
# A Distributed Map's child workflow executions (execution:<machine>/<Map Run label>:<id>) and its Map Runs
CHILD_EXECUTIONS = {"Fn::Sub": f"{_STATES}:execution:{MACHINE_NAME}/*"}
MAP_RUNS = {"Fn::Sub": f"{_STATES}:mapRun:{MACHINE_NAME}/*"}


@dataclass(frozen=True)
class Grant:
    """Actions on resources, and the code that calls them."""

    actions: tuple[str, ...]
    resources: tuple[Any, ...]
    why: str


CHUNK_HISTORIES = [
    Grant(("states:ListExecutions",), (MAP_RUNS,), "history.attach_children: a Map Run's child executions, one per chunk"),
    Grant(("states:GetExecutionHistory",), (CHILD_EXECUTIONS,), "history.attach_children: a chunk's own timeline"),
]


def _kms(why: str) -> Grant:
    return Grant(("kms:Decrypt", "kms:GenerateDataKey"), (KEY_ARN,), why)


# Active tracing: the Lambda runtime sends each invocation's segments with the function's role.
TRACING = Grant(("xray:PutTraceSegments", "xray:PutTelemetryRecords"), ("*",),
                "X-Ray tracing (the runtime's segments): these actions support no resource-level permissions")

# Function name (as in app.py) -> what its code calls (and TRACING: what its runtime sends).
FUNCTION_GRANTS: dict[str, list[Grant]] = {
    INGEST.function: [
        Grant(("s3:GetObject", "s3:GetObjectVersion"), (RAW_OBJECTS,), "ObjectStore.head/open_range: pin the source version, "
              "read its head and, for CSV, gzip and JSON arrays, the whole file once to plan its chunks"),
        Grant(("s3:ListBucket",), (RAW_BUCKET_ARN,), "ObjectStore.head: a missing key answers 404, not 403"),
        Grant(("s3:PutObject", "s3:AbortMultipartUpload"), (STAGING_OBJECTS,), "the chunk plan; the parts of gzip files and arrays"),
        Grant(("dynamodb:UpdateItem",), (TABLE_ARN,), "RunStore.claim/record_plan: claim the run (conditional write), its chunks"),
        _kms("SSE-KMS objects in both buckets"),
        TRACING,
    ],
    VALIDATE.function: [
        Grant(("s3:GetObjectVersion",), (RAW_OBJECTS,), "read_chunk: the chunk's byte range of the source version ingest pinned"),
        Grant(("s3:GetObject",), (STAGING_OBJECTS,), "read_chunk: a part ingest wrote"),
        Grant(("s3:PutObject", "s3:AbortMultipartUpload"), (STAGING_OBJECTS,),
              "the chunk's valid records, quarantined records, key fingerprints and findings"),
        Grant(("dynamodb:UpdateItem",), (TABLE_ARN,), "RunStore.record_chunk: the chunk's counts, added to the run's once"),
        _kms("SSE-KMS objects in both buckets"),
        TRACING,
    ],
    TRANSFORM.function: [
        Grant(("s3:GetObject",), (STAGING_OBJECTS,), "StagingStore.reader: the chunk's valid records"),
        Grant(("s3:PutObject", "s3:AbortMultipartUpload"), (STAGING_OBJECTS,), "the chunk's Parquet files, pending; their list"),
        _kms("SSE-KMS objects"),
        TRACING,
    ],
    VERDICT.function: [
        Grant(("s3:GetObject",), (STAGING_OBJECTS,), "the chunks' findings, quarantined records and key fingerprints"),
        Grant(("s3:PutObject", "s3:AbortMultipartUpload"), (QUARANTINE_OBJECTS,), "write_quarantine: the run's quarantine file"),
        Grant(("dynamodb:UpdateItem",), (TABLE_ARN,), "RunStore.record_validation: counts, quarantine and quality"),
        Grant(("dynamodb:Query",), (_index_arn(INDEX_BY_STATUS),),
              "RunStore.list(status=SUCCEEDED, dataset=...): the dataset's recent successful runs, for anomalies"),
        _kms("SSE-KMS objects"),
        TRACING,
    ],
    OUTPUT.function: [
        Grant(("s3:GetObject",), (STAGING_OBJECTS, MANIFEST_OBJECTS),
              "the chunks' file lists and the pending files it copies; the manifests of the key's versions"),
        Grant(("s3:ListBucket",), (PROCESSED_BUCKET_ARN,),
              "publish: the key's manifests (ObjectStore.list_keys); a missing manifest answers 404, not 403"),
        Grant(("s3:ListBucketVersions",), (RAW_BUCKET_ARN,), "publish: which version of the source key is newest"),
        Grant(("s3:PutObject", "s3:AbortMultipartUpload"), (PROCESSED_OBJECTS, MANIFEST_OBJECTS),
              "ObjectStore.copy_all: Parquet files into place; the manifest"),
        Grant(("s3:DeleteObject",), (PROCESSED_OBJECTS, MANIFEST_OBJECTS),
              "publish: files and manifests of older versions, or this run's own when a newer version published"),
        Grant(("dynamodb:UpdateItem",), (TABLE_ARN,), "RunStore.mark_superseded: the run whose files a newer version replaced"),
        Grant(("sns:Publish",), (TOPIC_ARN,), "Notifier.publish: a breached warn check or an anomaly, once the data is written"),
        _kms("SSE-KMS objects; the alerts topic"),
        TRACING,
    ],
    FAILURE_HANDLER: [
        Grant(("states:GetExecutionHistory", "states:DescribeExecution"), (EXECUTIONS,),
              "ExecutionStore.history: which state failed; describe: whether a redrive resumed it since"),
        *CHUNK_HISTORIES,
        Grant(("s3:GetObject", "s3:GetObjectVersion"), (RAW_OBJECTS,), "ObjectStore.head: the run id when Ingest never finished"),
        Grant(("s3:ListBucket",), (RAW_BUCKET_ARN,), "ObjectStore.head: 404 rather than 403"),
        Grant(("dynamodb:UpdateItem",), (TABLE_ARN,), "RunStore.mark_failed: status FAILED, failed state, error"),
        Grant(("sns:Publish",), (TOPIC_ARN,), "Notifier.publish: the failure alert"),
        Grant(("sqs:SendMessage",), (FAILED_INVOCATIONS_ARN,),
              "Lambda sends an event every attempt failed on to the on-failure destination with the function's role"),
        _kms("the alerts topic, the raw bucket and the failed-invocations queue are KMS-encrypted"),
        TRACING,
    ],
    API_HANDLER: [
        Grant(("s3:GetObject", "s3:GetObjectVersion"), (RAW_OBJECTS,), "control.runs.start_run: head the object"),
        Grant(("s3:ListBucket",), (RAW_BUCKET_ARN,), "start_run: a missing object answers 404"),
        Grant(("s3:PutObject",), (RAW_OBJECTS,), "control.uploads: presigned PUT URLs carry this role's permission"),
        Grant(("s3:GetObject",), (MANIFEST_OBJECTS,), "control.runs.describe_run: the run's output files"),
        Grant(("dynamodb:GetItem", "dynamodb:UpdateItem"), (TABLE_ARN,),
              "RunStore.get/begin_redrive/undo_redrive/mark_failed: show, reconcile and redrive runs"),
        Grant(("dynamodb:Query",), tuple(TABLE_INDEXES), "RunStore.list: newest-first listings"),
        Grant(("states:StartExecution",), (MACHINE_ARN,), "ExecutionStore.start: POST /runs, dead-letter replay"),
        Grant(("states:DescribeExecution", "states:GetExecutionHistory", "states:RedriveExecution"), (EXECUTIONS,),
              "ExecutionStore.describe/history/redrive"),
        *CHUNK_HISTORIES,
        Grant(("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"), (QUEUE_ARN,),
              "DeadLetterQueue.peek/hold/delete/release"),
        Grant(("sns:Publish",), (TOPIC_ARN,), "control.reconcile: the failure alert a failed failure handler did not send"),
        _kms("objects, dead letters and presigned uploads are KMS-encrypted"),
        TRACING,
    ],
}

# With the VPC option: Lambda creates and removes the function's network interfaces with its role.
NETWORK_INTERFACE_GRANTS: list[Grant] = [
    Grant(("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
           "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"), ("*",),
          "Lambda's ENIs in the VPC option: ec2:DescribeNetworkInterfaces supports no resource-level permissions, "
          "and the others name interfaces that do not exist yet"),
]

# The state machine's own role.
STATE_MACHINE_GRANTS: list[Grant] = [
    Grant(("lambda:InvokeFunction",), tuple(function_arn(name) for name in TASK_FUNCTION_NAMES),
          "the Lambda tasks (unqualified ARNs, as the definition names them)"),
    Grant(("s3:GetObject",), (STAGING_OBJECTS,), f"{CHUNKS_STATE}'s ItemReader: the chunk plan Ingest wrote"),
    Grant(("states:StartExecution",), (MACHINE_BY_NAME,), f"{CHUNKS_STATE}: its child workflow executions, one per chunk"),
    Grant(("states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"), (CHILD_EXECUTIONS,),
          f"{CHUNKS_STATE}: follow its children, stop them when the Map Run fails, redrive the failed ones with the run"),
    Grant(("dynamodb:UpdateItem",), (TABLE_ARN,), "RecordQuarantineMessage, RecordRejection, RecordTransform, RecordSuccess"),
    Grant(("sqs:SendMessage",), (QUEUE_ARN,), "SendQuarantineToDLQ, SendRejectionToDLQ"),
    Grant(("sns:Publish",), (NOTIFICATIONS_ARN,), "NotifyRejection, NotifySuccess (the notifications topic, not the alerts)"),
    _kms("the queue and the topic are KMS-encrypted"),
    Grant(("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
           "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"),
          ("*",), "CloudWatch Logs delivery for Step Functions supports no resource-level permissions (AWS docs)"),
    Grant(("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"),
          ("*",), "X-Ray tracing actions support no resource-level permissions"),
]

# The EventBridge rule that starts runs for objects created under raw/.
START_RULE_GRANTS: list[Grant] = [
    Grant(("states:StartExecution",), (MACHINE_ARN,), "Object Created in the raw bucket starts a run"),
]


def policy_document(grants: list[Grant]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"S{i}", "Effect": "Allow", "Action": list(g.actions), "Resource": list(g.resources)}
            for i, g in enumerate(grants)
        ],
    }
