"""The merge template, checked where cfn-lint cannot look."""
from __future__ import annotations

import json

import pytest

from infra import permissions, template
from infra.definition import DefinitionError, objects_in
from infra.permissions import FUNCTION_GRANTS, START_RULE_GRANTS, STATE_MACHINE_GRANTS
from infra.template import CHALICE_FUNCTIONS, merge_template


def statements(resource: dict) -> list[dict]:
    """The statements of the role's unconditional policies."""
    return [s for policy in resource["Properties"].get("Policies", []) if "PolicyDocument" in policy
            for s in policy["PolicyDocument"]["Statement"]]


def test_every_role_is_built_from_the_permission_table():
    resources = merge_template()["Resources"]
    for logical_id, name in CHALICE_FUNCTIONS.items():
        actions = {a for s in statements(resources[f"{logical_id}Role"]) for a in s["Action"]}
        assert actions == {a for g in FUNCTION_GRANTS[name] for a in g.actions} | {"logs:CreateLogStream", "logs:PutLogEvents"}
        assert resources[logical_id]["Properties"]["Role"] == {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}
        # and, with the VPC option only, what Lambda needs for the function's network interfaces
        [conditional] = [policy["Fn::If"] for policy in resources[f"{logical_id}Role"]["Properties"]["Policies"] if "Fn::If" in policy]
        assert conditional[0] == "HasVpc" and conditional[2] == {"Ref": "AWS::NoValue"}
        assert conditional[1]["PolicyDocument"] == permissions.policy_document(permissions.NETWORK_INTERFACE_GRANTS)
    assert len(statements(resources["StateMachineRole"])) == len(STATE_MACHINE_GRANTS)
    assert len(statements(resources["StartRunRole"])) == len(START_RULE_GRANTS)


def test_no_policy_grants_a_wildcard_action_and_star_resources_say_why():
    grants = [g for gs in FUNCTION_GRANTS.values() for g in gs] + STATE_MACHINE_GRANTS + START_RULE_GRANTS
    assert not [a for g in grants for a in g.actions if "*" in a]
    starred = [g for g in grants if "*" in g.resources]
    assert starred and all("no resource-level" in g.why for g in starred)
    assert all(g.why for g in grants)


def test_the_app_defines_exactly_the_functions_the_table_covers():
    import app

    defined = {name for name in ("ingest", "validate", "transform", "verdict", "output", "on_execution_failed") if hasattr(app, name)}
    assert set(FUNCTION_GRANTS) == defined | {"api_handler"}  # api_handler: Chalice's function for the routes
    assert app.app.routes  # so the API handler exists


def test_every_definition_placeholder_is_substituted_once(monkeypatch, tmp_path):
    machine = merge_template()["Resources"][permissions.MACHINE]["Properties"]
    text = machine["DefinitionString"]
    assert {f"${{{name}}}" for name in machine["DefinitionSubstitutions"]} == {
        f"${{{p}}}" for p in __import__("re").findall(r"\$\{([A-Za-z0-9_]+)\}", text)}
    # GIVEN a definition with a placeholder the stack does not fill
    broken = tmp_path / "etl.asl.json"
    broken.write_text(json.dumps({"StartAt": "X", "States": {"X": {"Type": "Pass", "Comment": "${Unknown}", "End": True}}}))
    monkeypatch.setattr(template, "ETL_DEFINITION", broken)
    with pytest.raises(DefinitionError, match="Unknown"):
        merge_template()


def test_only_task_functions_lack_the_state_machine_arn():
    resources = merge_template()["Resources"]
    for logical_id in CHALICE_FUNCTIONS:
        value = resources[logical_id]["Properties"]["Environment"]["Variables"]["STATE_MACHINE_ARN"]
        assert value == ("" if logical_id in template.TASK_FUNCTIONS else {"Ref": permissions.MACHINE})


def test_buckets_are_encrypted_private_versioned_and_tls_only():
    resources = merge_template()["Resources"]
    for bucket in (permissions.RAW, permissions.PROCESSED):
        properties = resources[bucket]["Properties"]
        [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" and rule["BucketKeyEnabled"]
        assert all(properties["PublicAccessBlockConfiguration"].values())
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        [deny] = resources[f"{bucket}Policy"]["Properties"]["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert resources[permissions.RAW]["Properties"]["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"]
    assert resources[permissions.KEY]["Properties"]["EnableKeyRotation"] is True


def asl_tasks(node) -> list[str]:
    return [state["Resource"] for state in objects_in(node) if state.get("Type") == "Task"]


def api_action(resource: str) -> str:
    """The IAM action a service-integration resource calls (``arn:aws:states:::dynamodb:updateItem`` -> ``dynamodb:UpdateItem``)."""
    service, api = resource.removeprefix("arn:aws:states:::").split(":")
    return {"lambda:invoke": "lambda:InvokeFunction"}.get(f"{service}:{api}", f"{service}:{api[0].upper()}{api[1:]}")


# What a Distributed Map needs of the machine's role besides its ItemReader (AWS: IAM policies for Distributed Map)
DISTRIBUTED_MAP_ACTIONS = {"states:StartExecution", "states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"}


def test_the_state_machine_role_grants_exactly_what_its_tasks_call():
    machine = merge_template()["Resources"][permissions.MACHINE]["Properties"]
    definition = json.loads(machine["DefinitionString"])
    needed = {api_action(resource) for resource in asl_tasks(definition)}
    for state in objects_in(definition):
        if state.get("Type") == "Map" and state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED":
            needed |= {api_action(state["ItemReader"]["Resource"]), *DISTRIBUTED_MAP_ACTIONS}
    granted = {a for g in STATE_MACHINE_GRANTS for a in g.actions if not a.startswith(("logs:", "xray:", "kms:"))}
    assert granted == needed == {"lambda:InvokeFunction", "dynamodb:UpdateItem", "sqs:SendMessage", "sns:Publish", "s3:GetObject",
                                 *DISTRIBUTED_MAP_ACTIONS}
    invoked = [r for g in STATE_MACHINE_GRANTS if "lambda:InvokeFunction" in g.actions for r in g.resources]
    assert invoked == [permissions.function_arn(n) for n in ("ingest", "validate", "transform", "verdict", "output")]
    assert [machine["DefinitionSubstitutions"][f"{f}FunctionArn"] for f in template.TASK_FUNCTIONS] == invoked
    assert machine["LoggingConfiguration"]["Level"] in {"ERROR", "ALL"} and machine["LoggingConfiguration"]["IncludeExecutionData"]
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_retention_settings_are_the_promised_ones():
    resources = merge_template()["Resources"]
    raw_rules = {r["Id"]: r for r in resources[permissions.RAW]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert raw_rules["raw-to-glacier-then-expire"]["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 30}]
    assert raw_rules["raw-to-glacier-then-expire"]["ExpirationInDays"] == 365
    assert raw_rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    processed_rules = {r["Id"]: r for r in resources[permissions.PROCESSED]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert processed_rules["processed-to-intelligent-tiering"]["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]
    # a failed run can be redriven for 14 days: its chunks' staged results must outlive that
    assert processed_rules["staging-expires"]["ExpirationInDays"] > 14
    table = resources[permissions.TABLE]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST" and table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"runs_by_time", "runs_by_status", "runs_by_dataset"}
    assert resources[permissions.QUEUE]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_alarms_cover_failures_dead_letters_undelivered_events_functions_and_the_table():
    resources = merge_template()["Resources"]
    alarms = {k for k, v in resources.items() if v.get("Type") == "AWS::CloudWatch::Alarm"}
    expected = {"ExecutionsFailedAlarm", "DeadLettersAlarm", "UndeliveredEventsAlarm", "FailedInvocationsAlarm",
                "StartRunRuleFailedInvocationsAlarm", "FailedExecutionsRuleFailedInvocationsAlarm", "RunsTableThrottlesAlarm"}
    expected |= {f"{f}{m}Alarm" for f in CHALICE_FUNCTIONS for m in ("Errors", "Throttles", "Duration")}
    expected |= {f"{d.title().replace('_', '')}QualityWarningsAlarm" for d in ("metrics", "transactions", "user_actions")}  # per dataset
    assert alarms == expected
    assert all(resources[a]["Properties"]["AlarmActions"] == [{"Ref": permissions.TOPIC}] for a in alarms)


def test_a_rejected_file_raises_one_alert_and_queues_alarm_on_arrivals_not_on_a_backlog():
    resources = merge_template()["Resources"]
    # the run's notification goes to the notifications topic, not to the alerts
    notify = [s for s in json.loads(resources[permissions.MACHINE]["Properties"]["DefinitionString"])["States"].values()
              if s.get("Resource") == "arn:aws:states:::sns:publish"]
    assert {s["Parameters"]["TopicArn"] for s in notify} == {"${NotificationsTopicArn}"}
    assert resources[permissions.MACHINE]["Properties"]["DefinitionSubstitutions"]["NotificationsTopicArn"] == {
        "Ref": permissions.NOTIFICATIONS}
    # the failed-runs alarm counts the state machine's failure events except a rejection's
    metric_filter = resources["RunsFailedMetricFilter"]["Properties"]
    assert '$.details.error != "DataRejected"' in metric_filter["FilterPattern"]
    failed = resources["ExecutionsFailedAlarm"]["Properties"]
    assert failed["MetricName"] == metric_filter["MetricTransformations"][0]["MetricName"]
    # the dead letter raises the one alert, on its arrival; so do the other queues
    for alarm, queue in (("DeadLettersAlarm", permissions.QUEUE), ("UndeliveredEventsAlarm", permissions.UNDELIVERED_EVENTS),
                         ("FailedInvocationsAlarm", permissions.FAILED_INVOCATIONS)):
        properties = resources[alarm]["Properties"]
        assert (properties["MetricName"], properties["Statistic"]) == ("NumberOfMessagesSent", "Sum")
        assert properties["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]


def test_duration_alarms_fire_before_the_timeout():
    resources = merge_template()["Resources"]
    assert resources["TransformDurationAlarm"]["Properties"]["Threshold"] == 240_000  # 80 % of 300 s
    assert resources["OnExecutionFailedDurationAlarm"]["Properties"]["Threshold"] == 48_000  # 80 % of 60 s


def test_every_event_bridge_target_retries_then_dead_letters_and_the_async_handler_has_a_destination():
    resources = merge_template()["Resources"]
    rules = [r for r in resources.values() if r.get("Type") == "AWS::Events::Rule"]
    assert len(rules) == 2
    for rule in rules:
        [target] = rule["Properties"]["Targets"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [permissions.UNDELIVERED_EVENTS, "Arn"]}}
    invoke = resources["OnExecutionFailedInvokeConfig"]["Properties"]
    assert invoke["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [permissions.FAILED_INVOCATIONS, "Arn"]}}}
    assert invoke["FunctionName"] == permissions.function_arn("on_execution_failed")
    for queue in (permissions.UNDELIVERED_EVENTS, permissions.FAILED_INVOCATIONS):
        assert resources[queue]["Properties"]["KmsMasterKeyId"] == {"Ref": permissions.KEY}
    [allow] = resources["UndeliveredEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and "aws:SourceArn" in allow["Condition"]["ArnLike"]
    services = [s["Principal"].get("Service") for s in resources[permissions.KEY]["Properties"]["KeyPolicy"]["Statement"]]
    assert "events.amazonaws.com" in services  # EventBridge encrypts what it dead-letters


def test_the_failure_rule_is_narrowed_to_this_state_machine_and_follows_the_function():
    resources = merge_template()["Resources"]
    rule = resources["FailedExecutionsRule"]
    assert rule["Properties"]["EventPattern"]["detail"]["stateMachineArn"] == [{"Ref": permissions.MACHINE}]
    assert rule["Properties"]["EventPattern"]["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    assert rule["DependsOn"] == ["OnExecutionFailed"]
    separate = template.resources_template()["Resources"]
    assert separate["FailedExecutionsRule"]["Condition"] == template.FUNCTIONS_DEPLOYED


def test_outputs_name_what_operators_need():
    assert {"RawBucketName", "ProcessedBucketName", "StateMachineArn", "DeadLetterQueueUrl", "AlertsTopicArn"} <= set(
        merge_template()["Outputs"])


def test_the_chalice_deploy_path_shares_every_resource_and_role_with_the_packaged_stack():
    from infra.template import resources_template

    packaged, separate = merge_template("prod")["Resources"], resources_template("prod")["Resources"]
    api_only = set(template.api_overrides())  # the access logs of Chalice's REST API stage
    role_parameters = {f"{f}RoleArnParameter" for f in CHALICE_FUNCTIONS}  # published for etl chalice-config
    assert set(separate) == {k for k, v in packaged.items() if "Type" in v} - api_only | role_parameters  # all but Chalice's own
    del separate["EndpointURLParameter"]  # the URL: of the stack's API here, of chalice deploy's there

    def placed(resource: dict) -> dict:  # what follows the functions: DependsOn in one stack, a Condition in the other
        return {k: v for k, v in resource.items() if k not in ("DependsOn", "Condition")}

    assert all(placed(separate[k]) == placed(packaged[k]) for k in set(separate) - role_parameters)
    outputs = resources_template("prod")["Outputs"]
    assert {f"{f}RoleArn" for f in CHALICE_FUNCTIONS} <= set(outputs)


def test_functions_are_named_as_chalice_deploy_names_them():
    from chalice.deploy import models
    from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder

    from infra.chalice_project import cli_factory

    config = cli_factory().create_config_obj("prod")
    graph = ApplicationGraphBuilder().build(config, "prod")
    chalice_names = {r.function_name for r in DependencyBuilder().build_dependencies(graph) if isinstance(r, models.LambdaFunction)}
    resources = merge_template("prod")["Resources"]
    ours = {resources[f]["Properties"]["FunctionName"]["Fn::Sub"].replace("${Stage}", "prod") for f in CHALICE_FUNCTIONS}
    logs = {resources[f"{f}Logs"]["Properties"]["LogGroupName"]["Fn::Sub"].replace("${Stage}", "prod") for f in CHALICE_FUNCTIONS}
    assert ours == chalice_names and logs == {f"/aws/lambda/{n}" for n in chalice_names}


def test_chalice_config_points_each_function_at_its_role_and_the_stack(tmp_path):
    from infra.chalice_config import write_stage

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"version": "2.0", "app_name": "serverless-etl", "stages": {"prod": {
        "api_gateway_stage": "api", "environment_variables": {"LOG_LEVEL": "WARNING", "RAW_BUCKET": "old"},
        "lambda_functions": {"ingest": {"lambda_memory_size": 2048}}}}}))
    outputs = {"RawBucketName": "raw", "ProcessedBucketName": "processed", "RunsTableName": "runs", "AlertsTopicArn": "topic",
               "DeadLetterQueueUrl": "queue", "StateMachineArn": "machine",
               **{f"{f}RoleArn": f"arn:aws:iam::1:role/{f}" for f in CHALICE_FUNCTIONS}}
    write_stage(config, "prod", outputs)
    stage = json.loads(config.read_text())["stages"]["prod"]
    assert stage["manage_iam_role"] is False and stage["iam_role_arn"] == "arn:aws:iam::1:role/APIHandler"
    assert stage["environment_variables"] == {"LOG_LEVEL": "WARNING", "RAW_BUCKET": "raw", "PROCESSED_BUCKET": "processed", "RUNS_TABLE": "runs",
                                              "ALERTS_TOPIC_ARN": "topic", "DEAD_LETTER_QUEUE_URL": "queue",
                                              "STATE_MACHINE_ARN": "machine"}
    assert stage["lambda_functions"]["ingest"] == {"lambda_memory_size": 2048, "iam_role_arn": "arn:aws:iam::1:role/Ingest",
                                                   "environment_variables": {"STATE_MACHINE_ARN": ""}}
    assert stage["lambda_functions"]["on_execution_failed"] == {"iam_role_arn": "arn:aws:iam::1:role/OnExecutionFailed"}
