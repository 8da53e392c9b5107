"""The merge template for ``chalice package``: everything the functions need besides themselves.

Built in Python from the project's own definitions rather than written by hand:
the run table from :func:`chalicelib.storage.runs.table_definition`, the IAM
policies from :mod:`infra.permissions`, the Glue tables from each dataset's
output schema, the state machine from ``statemachines/etl.asl.json`` with a
substitution for each placeholder.  Chalice's own resources (``Ingest``,
``Validate``, ``Transform``, ``Output``, ``OnExecutionFailed``,
``APIHandler``, ``RestAPI``) are completed by deep merge: their role and
environment are set here.
"""
from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from chalicelib import steps
from chalicelib.config import DEFAULT_SCHEMAS_DIR
from chalicelib.datasets import DatasetRegistry
from chalicelib.datasets.columns import PARTITION_KEYS, output_schema
from chalicelib.keys import PROCESSED_ROOT, RAW_PREFIX, STAGING_ROOT, processed_prefix
from chalicelib.run_record import TTL_ATTRIBUTE
from chalicelib.steps import API_HANDLER, FAILURE_HANDLER, PIPELINE_STEPS
from chalicelib.storage.runs import table_definition
from infra import audit, backup, cost, delivery, discovery, network
from infra import permissions as p
from infra.alarms import alarms
from infra.buckets import PROCESSED_BUCKET, RAW_BUCKET, access_logs, bucket, bucket_policy
from infra.checks import SYNCHRONOUS_NO_DLQ, VPC_OPTIONAL, skip
from infra.dashboard import dashboard
from infra.definition import ETL_DEFINITION, check_substitutions
from infra.naming import APP, MACHINE_SUFFIX, stage_name, tag_values, tagged, tags
from infra.permissions import Grant, get_arn, policy_document, ref

# Chalice logical id -> app.py function name, for the functions this stack completes.
CHALICE_FUNCTIONS = {
    steps.logical_id(name): name for name in (*(step.function for step in PIPELINE_STEPS), FAILURE_HANDLER, API_HANDLER)}
TASK_FUNCTIONS = tuple(step.logical_id for step in PIPELINE_STEPS)
# Partition projection of each key of PARTITION_KEYS, in its order: (range, digits), as partition_directory writes them.
_PROJECTION_RANGES = dict(zip(PARTITION_KEYS, (("2000,2100", "4"), ("1,12", "2"), ("1,31", "2"), ("0,23", "2")), strict=True))
ATHENA_RESULTS = "athena-results/"


LOG_RETENTION_DAYS = 90
STAGING_DAYS = 15  # longer than the 14 days Step Functions redrives a failed execution for


def _log_group(name: Any, retention_days: int = LOG_RETENTION_DAYS) -> dict[str, Any]:
    """A log group encrypted with the stack's key (the key policy lets CloudWatch Logs use it for this stage's groups)."""
    return {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": name, "RetentionInDays": retention_days, "KmsKeyId": get_arn(p.KEY)}}


def _service_may_use_the_key(sid: str, service: Any, actions: list[str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": actions, "Resource": "*",
            "Condition": condition or {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}


def _key_policy() -> dict[str, Any]:
    """The account administers the key; each service that writes into an encrypted resource of the stack may use it, no more."""
    this_stages_log_groups = {"Fn::Sub": f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:*{APP}-${{Stage}}*"}
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow",
         "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
         "Action": "kms:*", "Resource": "*"},  # a key policy's Resource is always the key itself
        _service_may_use_the_key("AlarmsPublishToTheEncryptedTopic", "cloudwatch.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey"]),
        _service_may_use_the_key("BudgetsPublishToTheEncryptedTopic", "budgets.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey"]),
        _service_may_use_the_key("EventBridgeDeadLettersToTheEncryptedQueue", "events.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey"]),
        _service_may_use_the_key(
            "LogsEncryptThisStagesLogGroups", {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"},
            ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": this_stages_log_groups}}),
        *audit.key_statements(),
    ]}


def storage() -> dict[str, Any]:
    """KMS key, buckets, run table, queues, topics."""
    return {
        p.KEY: {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": {
            "Description": {"Fn::Sub": f"{APP} ${{Stage}}: buckets, run table, dead-letter queue, alerts"},
            "EnableKeyRotation": True,
            # etl destroy --delete-data finds the key by these once the stack (and the alias) is gone.
            "Tags": tags("storage"),
            "KeyPolicy": _key_policy(),
        }},
        "DataKeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": {"Fn::Sub": f"alias/{APP}-${{Stage}}"}, "TargetKeyId": ref(p.KEY)}},
        p.RAW: bucket(RAW_BUCKET, [
            # Versioned: expiry leaves a delete marker, so the old version goes a day later and the marker after it.
            {"Id": "raw-to-glacier-then-expire", "Status": "Enabled", "Prefix": RAW_PREFIX,
             "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 30}], "ExpirationInDays": 365,
             "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
            {"Id": "expired-delete-markers", "Status": "Enabled", "ExpiredObjectDeleteMarker": True},
        ], event_bridge=True),
        p.PROCESSED: bucket(PROCESSED_BUCKET, [
            # Intelligent-Tiering, not a fixed Standard-IA rule: Athena reads old partitions unpredictably, and IA
            # bills every read ($0.01/GB) and 30 days at least; IT moves each idle object down and back up for free.
            {"Id": "processed-to-intelligent-tiering", "Status": "Enabled", "Prefix": f"{PROCESSED_ROOT}/",
             "Transitions": [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}],
             "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
            # A redrive of a failed run needs its chunks' staged results.
            {"Id": "staging-expires", "Status": "Enabled", "Prefix": f"{STAGING_ROOT}/", "ExpirationInDays": STAGING_DAYS,
             "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
            {"Id": "athena-results-expire", "Status": "Enabled", "Prefix": ATHENA_RESULTS, "ExpirationInDays": 30},
            {"Id": "expired-delete-markers", "Status": "Enabled", "ExpiredObjectDeleteMarker": True},
        ], ReplicationConfiguration=backup.replication_configuration()),
        "RawBucketPolicy": bucket_policy(p.RAW),
        "ProcessedBucketPolicy": bucket_policy(p.PROCESSED),
        **access_logs(),
        p.TABLE: {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                  "Properties": {**_table_properties(), "TableName": stage_name(backup.RUNS_TABLE)}},
        p.QUEUE: {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": stage_name("dead-letters"), "MessageRetentionPeriod": 14 * 24 * 3600, "KmsMasterKeyId": ref(p.KEY)}},
        # Alerts are for people on call (failures, breaches, budget, dead letters); notifications for whoever wants each run.
        p.TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": stage_name("alerts"), "KmsMasterKeyId": ref(p.KEY)}},
        p.NOTIFICATIONS: {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": stage_name("notifications"), "KmsMasterKeyId": ref(p.KEY)}},
        "AlertsTopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {"Topics": [ref(p.TOPIC)], "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{
                "Sid": "BudgetsAndAlarmsOfThisAccountPublish", "Effect": "Allow",
                "Principal": {"Service": ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]},
                "Action": "SNS:Publish", "Resource": ref(p.TOPIC),
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}}},
        **delivery.queues(),
        "AlertEmailSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasAlertEmail", "Properties": {
            "TopicArn": ref(p.TOPIC), "Protocol": "email", "Endpoint": ref("AlertEmail")}},
    }


def _table_properties() -> dict[str, Any]:
    definition = table_definition("unused")
    definition.pop("TableName")
    return {
        **definition,
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": ref(p.KEY)},
    }


def _role(principal: str | dict[str, str], grants: list[Grant], log_group: Any | None = None, *,
          network_interfaces: bool = False) -> dict[str, Any]:
    statements = list(grants)
    if log_group is not None:
        statements.append(Grant(("logs:CreateLogStream", "logs:PutLogEvents"), (log_group,), "the function's own log group"))
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": policy_document(statements)},
                     *([network.network_interface_policy()] if network_interfaces else [])],
    }}


def chalice_function_name(name: str) -> str:
    """The name ``chalice deploy`` gives a function (``<app>-<stage>-<name>``; the API handler ``<app>-<stage>``),
    with ``${Stage}`` for the stage."""
    return f"{APP}-${{Stage}}" if name == API_HANDLER else f"{APP}-${{Stage}}-{name}"


def _function_name(function: str) -> dict[str, Any]:
    """Chalice's own naming, set explicitly in the packaged stack so both paths name functions alike."""
    return {"Fn::Sub": chalice_function_name(function)}


def _log_group_id(logical_id: str) -> str:
    return f"{logical_id}Logs"


def function_environment(logical_id: str) -> dict[str, Any]:
    """What a function reads from its environment (``chalicelib.config``), as stack values."""
    return {
        "RAW_BUCKET": ref(p.RAW),
        "PROCESSED_BUCKET": ref(p.PROCESSED),
        "RUNS_TABLE": ref(p.TABLE_NAME),
        "ALERTS_TOPIC_ARN": ref(p.TOPIC),
        "DEAD_LETTER_QUEUE_URL": ref(p.QUEUE),
        # The task functions do not need the machine (which names them): keep the graph acyclic.
        "STATE_MACHINE_ARN": "" if logical_id in TASK_FUNCTIONS else ref(p.MACHINE),
    }


def roles() -> dict[str, Any]:
    """A role and a log group per function (the functions themselves are Chalice's)."""
    resources: dict[str, Any] = {}
    for logical_id, name in CHALICE_FUNCTIONS.items():
        resources[_log_group_id(logical_id)] = _log_group({"Fn::Sub": f"/aws/lambda/{chalice_function_name(name)}"})
        resources[f"{logical_id}Role"] = _role("lambda.amazonaws.com", p.FUNCTION_GRANTS[name], get_arn(_log_group_id(logical_id)),
                                               network_interfaces=True)
    return resources


def function_overrides() -> dict[str, Any]:
    """Name, role, environment (encrypted with the stack's key), network and tags of each Chalice function,
    merged into Chalice's own resources (tracing and reserved concurrency come from .chalice/config.json)."""
    resources = {
        logical_id: {"Properties": {"FunctionName": _function_name(function), "Role": get_arn(f"{logical_id}Role"),
                                    "Environment": {"Variables": function_environment(logical_id)}, "KmsKeyArn": get_arn(p.KEY),
                                    "VpcConfig": network.vpc_config(), "Tags": tag_values("pipeline")},
                     "Metadata": skip(SYNCHRONOUS_NO_DLQ, VPC_OPTIONAL)}
        for logical_id, function in CHALICE_FUNCTIONS.items()
    }
    resources[steps.logical_id(FAILURE_HANDLER)]["Metadata"] = skip(
        ("CKV_AWS_116", "invoked asynchronously with an on-failure destination (OnExecutionFailedInvokeConfig), which keeps the "
                        "event and the error, where a DLQ keeps the event only"), VPC_OPTIONAL)
    return resources


def api_overrides() -> dict[str, Any]:
    """Access logs and X-Ray tracing of Chalice's REST API stage (the account's API Gateway logging role included)."""
    return {
        "RestAPI": {"Properties": {
            "AccessLogSetting": {"DestinationArn": get_arn("ApiAccessLogs"), "Format": json.dumps(API_ACCESS_LOG_FORMAT)},
            "TracingEnabled": True,  # chalice package leaves the stage's tracing out (chalice deploy sets it from "xray")
            "Tags": tag_values("api")},
            "Metadata": skip(("CKV_AWS_120", "a control API: every answer must be current (run status, dead letters), so nothing is cached"))},
        "ApiAccessLogs": _log_group({"Fn::Sub": f"/aws/apigateway/{APP}-${{Stage}}-access"}),
        "ApiGatewayLoggingRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "access-logs", "PolicyDocument": policy_document([Grant(
                ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"),
                (get_arn("ApiAccessLogs"), {"Fn::Sub": "${ApiAccessLogs.Arn}:*"}), "API Gateway writes the stage's access logs")])}]}},
        # API Gateway logs with one role per account and region: this sets it (README: what that means).
        "ApiGatewayAccount": {"Type": "AWS::ApiGateway::Account", "Properties": {"CloudWatchRoleArn": get_arn("ApiGatewayLoggingRole")}},
    }


API_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "caller": "$context.identity.caller",
    "user": "$context.identity.userArn", "requestTime": "$context.requestTime", "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath", "status": "$context.status", "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
}


def orchestration(stage: str) -> dict[str, Any]:
    """State machine, its role and logs, and the rule that starts runs for new objects."""
    definition_text = ETL_DEFINITION.read_text()
    substitutions = {
        **{step.placeholder: p.function_arn(step.function) for step in PIPELINE_STEPS},
        "RunsTableName": ref(p.TABLE_NAME),
        "DeadLetterQueueUrl": ref(p.QUEUE),
        "NotificationsTopicArn": ref(p.NOTIFICATIONS),
    }
    check_substitutions(definition_text, substitutions)
    cost.check_map_concurrency(definition_text, substitutions, stage)
    return {
        "StateMachineLogs": _log_group({"Fn::Sub": f"/aws/vendedlogs/states/{APP}-${{Stage}}-etl"}),
        "StateMachineRole": _role({"Fn::Sub": "states.${AWS::URLSuffix}"}, p.STATE_MACHINE_GRANTS),
        p.MACHINE: {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": stage_name(MACHINE_SUFFIX),
            "StateMachineType": "STANDARD",
            # The file's text as is: a Definition object would lose its nulls ("ResultPath": null) in some tools.
            "DefinitionString": definition_text,
            "DefinitionSubstitutions": substitutions,
            "RoleArn": get_arn("StateMachineRole"),
            "LoggingConfiguration": {"Level": "ERROR", "IncludeExecutionData": True,
                                     "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": get_arn("StateMachineLogs")}}]},
            "TracingConfiguration": {"Enabled": True},
        }},
        "StartRunRole": _role({"Fn::Sub": "events.${AWS::URLSuffix}"}, p.START_RULE_GRANTS),
        delivery.START_RULE: {"Type": "AWS::Events::Rule", "Properties": {
            "Name": stage_name("start-run"),
            "Description": f"An object created under {RAW_PREFIX} in the raw bucket starts a run",
            "EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Created"],
                             "detail": {"bucket": {"name": [ref(p.RAW)]}, "object": {"key": [{"prefix": RAW_PREFIX}]}}},
            "Targets": [delivery.dead_letter_target({"Id": "etl", "Arn": ref(p.MACHINE), "RoleArn": get_arn("StartRunRole")})],
        }},
    }


_GLUE_TYPES = {pa.string(): "string", pa.int64(): "bigint", pa.float64(): "double", pa.bool_(): "boolean", pa.date32(): "date"}


def glue_type(data_type: pa.DataType) -> str:
    """The Hive/Athena type of an Arrow type the pipeline writes."""
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_list(data_type):
        return f"array<{glue_type(data_type.value_type)}>"
    return _GLUE_TYPES[data_type]


def catalog(registry: DatasetRegistry | None = None) -> dict[str, Any]:
    """A Glue database, a table per dataset over processed/<dataset>/ with partition projection, an Athena workgroup."""
    registry = registry or DatasetRegistry(DEFAULT_SCHEMAS_DIR)
    database = {"Fn::Sub": f"{APP.replace('-', '_')}_${{Stage}}"}
    resources: dict[str, Any] = {
        "GlueDatabase": {"Type": "AWS::Glue::Database", "Properties": {
            "CatalogId": ref("AWS::AccountId"), "DatabaseInput": {"Name": database}}},
        "AthenaWorkGroup": {"Type": "AWS::Athena::WorkGroup", "Properties": {
            "Name": stage_name("analytics"),
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "ResultConfiguration": {
                    "OutputLocation": {"Fn::Sub": f"s3://${{{p.PROCESSED}}}/{ATHENA_RESULTS}"},
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": get_arn(p.KEY)},
                },
            },
        }},
    }
    partitions = "".join(f"{key}=${{!{key}}}/" for key in PARTITION_KEYS)  # year=${year}/... once Fn::Sub is done
    for name in registry.names():
        location = {"Fn::Sub": f"s3://${{{p.PROCESSED}}}/{processed_prefix(name)}"}
        projection = {f"projection.{key}.{setting}": value for key, (span, digits) in _PROJECTION_RANGES.items()
                      for setting, value in (("type", "integer"), ("range", span), ("digits", digits))}
        resources[f"{''.join(part.title() for part in name.split('_'))}Table"] = {
            "Type": "AWS::Glue::Table", "Properties": {
                "CatalogId": ref("AWS::AccountId"),
                "DatabaseName": ref("GlueDatabase"),
                "TableInput": {
                    "Name": name,
                    "TableType": "EXTERNAL_TABLE",
                    "Parameters": {
                        "classification": "parquet", "parquet.compression": "SNAPPY", "projection.enabled": "true",
                        **projection,
                        "storage.location.template": {"Fn::Sub": f"s3://${{{p.PROCESSED}}}/{processed_prefix(name)}{partitions}"},
                    },
                    "PartitionKeys": [{"Name": key, "Type": "string"} for key in PARTITION_KEYS],
                    "StorageDescriptor": {
                        "Location": location,
                        "Columns": [{"Name": f.name, "Type": glue_type(f.type)} for f in output_schema(registry.get(name))],
                        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
                    },
                },
            },
        }
    return resources


FUNCTIONS_DEPLOYED = "FunctionsDeployed"  # resources stack: the Chalice functions exist (see resources_template)
HAS_API_URL = "HasApiUrl"


def _outputs() -> dict[str, Any]:
    return {
        "RawBucketName": {"Value": ref(p.RAW)},
        "ProcessedBucketName": {"Value": ref(p.PROCESSED)},
        "RunsTableName": {"Value": ref(p.TABLE_NAME)},
        "StateMachineArn": {"Value": ref(p.MACHINE)},
        "DeadLetterQueueUrl": {"Value": ref(p.QUEUE)},
        "AlertsTopicArn": {"Value": ref(p.TOPIC)},
        "NotificationsTopicArn": {"Value": ref(p.NOTIFICATIONS)},
        "UndeliveredEventsQueueUrl": {"Value": ref(p.UNDELIVERED_EVENTS)},
        "FailedInvocationsQueueUrl": {"Value": ref(p.FAILED_INVOCATIONS)},
        "AthenaWorkGroup": {"Value": ref("AthenaWorkGroup")},
        "GlueDatabase": {"Value": ref("GlueDatabase")},
        **backup.outputs(),
        "FunctionSubnetIds": {"Condition": network.HAS_VPC, "Value": {"Fn::Join": [",", ref("SubnetIds")]}},
        "FunctionSecurityGroupId": {"Condition": network.HAS_VPC, "Value": network.function_security_group()},
    }


def _frame(stage: str, resources: dict[str, Any], outputs: dict[str, Any],
           parameters: dict[str, Any] | None = None, conditions: dict[str, Any] | None = None) -> dict[str, Any]:
    """The template: parameters, conditions, the resources, the outputs and an SSM parameter per output."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "Stage": {"Type": "String", "AllowedValues": [stage], "Default": stage,
                      "Description": "Names every resource serverless-etl-<stage>-...; fixed when packaging (Chalice's stage settings are in the code)"},
            "AlertEmail": {"Type": "String", "Default": "", "Description": "E-mail address subscribed to alerts (empty: none)"},
            **audit.parameter(stage), **cost.parameters(), **backup.parameters(stage), **network.parameters(),
            **(parameters or {}),
        },
        "Rules": {**backup.rules(), **network.rules()},
        "Conditions": {"HasAlertEmail": p.not_empty(ref("AlertEmail")),
                       **audit.condition(), **cost.conditions(), **backup.conditions(), **network.conditions(), **(conditions or {})},
        "Resources": {**resources, **discovery.parameters(outputs)},
        "Outputs": outputs,
    }


def _shared(stage: str) -> dict[str, Any]:
    """What both stacks hold: everything but Chalice's functions and API and what must follow the functions."""
    return {
        **tagged(storage(), "storage"), **tagged(roles(), "pipeline"), **tagged(orchestration(stage), "pipeline"),
        **tagged(alarms(stage, CHALICE_FUNCTIONS, _function_name), "alerting"), **tagged(catalog(), "catalog"),
        **tagged(dashboard(DatasetRegistry(DEFAULT_SCHEMAS_DIR).names()), "alerting"),
        **tagged(audit.trail(), "audit"), **tagged(cost.budget(), "cost"), **tagged(backup.table_backups(), "backup"),
        **tagged(backup.replication_role(), "backup"), **tagged(network.endpoints(), "network"),
    }


def merge_template(stage: str = "dev") -> dict[str, Any]:
    """The template ``chalice package --merge-template`` merges into Chalice's own: one stack."""
    after_functions = {logical_id: {**resource, "DependsOn": [steps.logical_id(FAILURE_HANDLER)]}
                       for logical_id, resource in tagged(delivery.failure_delivery(), "alerting").items()}
    api = {"EndpointURL": {"Value": {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/"}}}
    return _frame(stage, {**_shared(stage), **function_overrides(), **tagged(api_overrides(), "api"), **after_functions},
                  {**_outputs(), **api})


def resources_template(stage: str = "dev") -> dict[str, Any]:
    """Everything but Chalice's functions and API, as a stack of its own, for ``chalice deploy``.

    The same resources and roles as :func:`merge_template`; the outputs add each function's role
    ARN, which ``etl chalice-config`` writes into ``.chalice/config.json`` for the stage.  What
    names a function that must exist (the failure rule's permission, the handler's asynchronous
    settings) is created once ``FunctionsDeployed`` is ``true``: ``etl deploy --resources-only``
    sets it when it finds the functions ``chalice deploy`` made, and ``ApiUrl`` to their API's URL.
    """
    role_outputs = {f"{logical_id}RoleArn": {"Value": get_arn(f"{logical_id}Role")} for logical_id in CHALICE_FUNCTIONS}
    api = {"EndpointURL": {"Condition": HAS_API_URL, "Value": ref("ApiUrl")}}
    after_functions = {logical_id: {**resource, "Condition": FUNCTIONS_DEPLOYED}
                       for logical_id, resource in tagged(delivery.failure_delivery(), "alerting").items()}
    parameters = {
        FUNCTIONS_DEPLOYED: {"Type": "String", "AllowedValues": ["false", "true"], "Default": "false",
                             "Description": "true once `chalice deploy` has created the functions (etl deploy --resources-only finds out)"},
        "ApiUrl": {"Type": "String", "Default": "", "Description": "The URL of the REST API chalice deploy made (published in SSM)"},
    }
    conditions = {FUNCTIONS_DEPLOYED: {"Fn::Equals": [ref(FUNCTIONS_DEPLOYED), "true"]},
                  HAS_API_URL: p.not_empty(ref("ApiUrl"))}
    return _frame(stage, {**_shared(stage), **after_functions}, {**_outputs(), **role_outputs, **api}, parameters, conditions)
