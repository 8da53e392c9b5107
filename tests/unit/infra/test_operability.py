"""What makes the stack operable in a regulated account (issue 16): encryption, audit, VPC, cost, backup, discovery."""
from __future__ import annotations

import json
import re

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from chalicelib.config import DEFAULT_CHUNK_CONCURRENCY
from infra import cost, network
from infra import permissions as p
from infra.chalice_config import MissingOutputs, stage_config
from infra.chalice_project import read_config
from infra.template import CHALICE_FUNCTIONS, merge_template, resources_template


@pytest.fixture(scope="module")
def resources() -> dict:
    return merge_template("prod")["Resources"]


def typed(resources: dict, kind: str) -> dict:
    return {k: v for k, v in resources.items() if v.get("Type") == kind}


def test_every_log_group_is_encrypted_with_the_key_which_logs_may_use_for_this_stages_groups_only(resources):
    groups = typed(resources, "AWS::Logs::LogGroup")
    assert len(groups) == len(CHALICE_FUNCTIONS) + 2  # the functions', the state machine's, the API's access logs
    assert all(g["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [p.KEY, "Arn"]} for g in groups.values())
    [logs] = [s for s in resources[p.KEY]["Properties"]["KeyPolicy"]["Statement"] if s["Sid"] == "LogsEncryptThisStagesLogGroups"]
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    assert context.endswith(":log-group:*serverless-etl-${Stage}*")
    assert all(g["Properties"]["LogGroupName"]["Fn::Sub"].count("serverless-etl-${Stage}") for g in groups.values())


def test_the_audit_trail_records_data_events_of_both_buckets_and_the_table_on_by_default_in_prod():
    assert merge_template("prod")["Parameters"]["AuditTrail"]["Default"] == "on"
    assert merge_template("dev")["Parameters"]["AuditTrail"]["Default"] == "off"
    resources = merge_template("prod")["Resources"]
    trail = resources["DataEventsTrail"]
    assert trail["Condition"] == "HasAuditTrail" and trail["Properties"]["EnableLogFileValidation"] is True
    assert trail["Properties"]["KMSKeyId"] == {"Fn::GetAtt": [p.KEY, "Arn"]}
    selectors = {s["Name"]: {f["Field"]: f for f in s["FieldSelectors"]} for s in trail["Properties"]["AdvancedEventSelectors"]}
    objects = selectors["objects of the raw and processed buckets"]["resources.ARN"]["StartsWith"]
    assert objects == [{"Fn::Sub": f"${{{b}.Arn}}/"} for b in (p.RAW, p.PROCESSED)]
    assert selectors["the run table"]["resources.ARN"]["Equals"] == [p.TABLE_ARN]
    audit = resources["AuditBucket"]["Properties"]
    assert audit["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(audit["PublicAccessBlockConfiguration"].values())
    assert {r["Id"] for r in audit["LifecycleConfiguration"]["Rules"]} >= {"audit-logs-to-glacier-then-expire"}
    statements = resources["AuditBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statements[0]["Sid"] == "DenyInsecureTransport" and {s["Principal"].get("Service") for s in statements[1:]} == {
        "cloudtrail.amazonaws.com"}


def test_every_bucket_logs_its_access_and_the_api_logs_and_traces(resources):
    buckets = typed(resources, "AWS::S3::Bucket")
    logged = {k for k, v in buckets.items() if "LoggingConfiguration" in v["Properties"]}
    assert logged == set(buckets) - {"AccessLogsBucket"}
    assert all(buckets[k]["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"} for k in logged)
    api = resources["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True and api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    assert json.loads(api["AccessLogSetting"]["Format"])["requestId"] == "$context.requestId"
    assert read_config()["xray"] is True  # chalice package and chalice deploy turn on active tracing from it
    assert all(resources[f]["Properties"]["KmsKeyArn"] == {"Fn::GetAtt": [p.KEY, "Arn"]} for f in CHALICE_FUNCTIONS)


def test_the_vpc_option_reaches_every_service_the_functions_call_through_endpoints():
    assert network.interface_services() == ["kms", "logs", "sns", "sqs", "states", "xray"]
    resources = merge_template("prod")["Resources"]
    endpoints = typed(resources, "AWS::EC2::VPCEndpoint")
    names = {e["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]: e for e in endpoints.values()}
    assert set(names) == {"s3", "dynamodb", *network.interface_services()}
    assert {names[s]["Properties"]["VpcEndpointType"] for s in ("s3", "dynamodb")} == {"Gateway"}
    assert all(e["Condition"] in {"HasVpc", "HasRouteTables"} for e in endpoints.values())
    [egress] = resources["FunctionSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)
    assert all(resources[f]["Properties"]["VpcConfig"]["Fn::If"][0] == "HasVpc" for f in CHALICE_FUNCTIONS)
    assert merge_template("prod")["Parameters"]["VpcId"]["Default"] == ""  # off unless asked for


def test_the_budget_alerts_at_80_percent_actual_and_100_percent_forecast(resources):
    budget = resources["CostBudget"]["Properties"]
    alerts = [(n["Notification"]["NotificationType"], n["Notification"]["Threshold"], n["Subscribers"][0]["Address"])
              for n in budget["NotificationsWithSubscribers"]]
    assert alerts == [("ACTUAL", 80, {"Ref": p.TOPIC}), ("FORECASTED", 100, {"Ref": p.TOPIC})]
    assert budget["Budget"]["BudgetLimit"]["Amount"] == {"Ref": "MonthlyBudget"}
    # it counts this stage's costs only: resources tagged with the app and the stage (both, not either)
    assert budget["Budget"]["FilterExpression"] == {"And": [
        {"Tags": {"Key": "app", "Values": ["serverless-etl"], "MatchOptions": ["EQUALS"]}},
        {"Tags": {"Key": "stage", "Values": [{"Ref": "Stage"}], "MatchOptions": ["EQUALS"]}}]}
    assert "CostFilters" not in budget["Budget"]
    [allow] = resources["AlertsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert "budgets.amazonaws.com" in allow["Principal"]["Service"]


def test_every_resource_that_takes_tags_carries_app_stage_and_component():
    for template in (merge_template("prod"), resources_template("prod")):
        untagged = []
        for logical_id, resource in template["Resources"].items():
            if "Type" not in resource or resource["Type"].startswith("AWS::Serverless::"):
                continue
            schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource["Type"]).schema["properties"]
            tag_property = next((k for k in schema if k.endswith("Tags")), None)
            if tag_property is None:
                continue
            value = resource["Properties"].get(tag_property)
            keys = set(value) if isinstance(value, dict) else {t["Key"] for t in value or []}
            if not {"app", "stage", "component"} <= keys:
                untagged.append(logical_id)
        assert untagged == []


def test_reserved_concurrency_is_configured_per_function_and_a_map_may_not_outrun_it(monkeypatch):
    assert {name: cost.reserved_concurrency("prod", name) for name in CHALICE_FUNCTIONS.values()} == {
        "ingest": 20, "validate": 20, "transform": 20, "verdict": 20, "output": 20, "on_execution_failed": 5, "api_handler": 10}
    substitutions = {"TransformFunctionArn": p.function_arn("transform")}
    mapped = {"StartAt": "Chunks", "States": {"Chunks": {"Type": "Map", "MaxConcurrency": 50, "End": True, "ItemProcessor": {
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                         "Parameters": {"FunctionName": "${TransformFunctionArn}"}, "End": True}}}}}}
    with pytest.raises(cost.ConcurrencyError, match="transform is reserved 20"):
        cost.check_map_concurrency(json.dumps(mapped), substitutions, "prod")
    mapped["States"]["Chunks"]["MaxConcurrency"] = 20
    cost.check_map_concurrency(json.dumps(mapped), substitutions, "prod")
    # a Map reading its concurrency from its input (as the pipeline's does) runs the stage's configured chunk concurrency
    del mapped["States"]["Chunks"]["MaxConcurrency"]
    mapped["States"]["Chunks"]["MaxConcurrencyPath"] = "$.chunks.max_concurrency"
    assert cost.chunk_concurrency("prod") == DEFAULT_CHUNK_CONCURRENCY <= 20
    cost.check_map_concurrency(json.dumps(mapped), substitutions, "prod")
    monkeypatch.setattr(cost, "chunk_concurrency", lambda stage: 50)
    with pytest.raises(cost.ConcurrencyError, match="up to 50 iterations"):
        cost.check_map_concurrency(json.dumps(mapped), substitutions, "prod")


def test_the_run_table_is_backed_up_daily_for_35_days_and_processed_data_may_replicate(resources):
    [rule] = resources["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)" and rule["Lifecycle"] == {"DeleteAfterDays": 35}
    assert resources["BackupVault"]["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [p.KEY, "Arn"]}
    assert resources["BackupSelection"]["Properties"]["BackupSelection"]["Resources"] == [p.TABLE_ARN]
    condition, replication, absent = resources[p.PROCESSED]["Properties"]["ReplicationConfiguration"]["Fn::If"]
    assert condition == "HasReplica" and absent == {"Ref": "AWS::NoValue"}
    assert {r["Filter"]["Prefix"] for r in replication["Rules"]} == {"processed/", "manifests/"}
    assert all(r["DeleteMarkerReplication"] == {"Status": "Enabled"} for r in replication["Rules"])
    assert all(r["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": {"Ref": "ReplicaKeyArn"}} for r in replication["Rules"])


def test_the_stack_publishes_its_outputs_in_ssm_under_the_stage():
    template = resources_template("dev")
    parameters = typed(template["Resources"], "AWS::SSM::Parameter")
    assert {r["Properties"]["Name"]["Fn::Sub"] for r in parameters.values()} == {
        f"/serverless-etl/${{Stage}}/{key}" for key in template["Outputs"]}
    assert parameters["EndpointURLParameter"]["Condition"] == "HasApiUrl"


def test_chalice_config_names_every_missing_output_and_writes_the_vpc_settings():
    with pytest.raises(MissingOutputs, match=r"IngestRoleArn.*RawBucketName"):
        stage_config({"ProcessedBucketName": "b"})
    outputs = {key: f"value-of-{key}" for key in ("RawBucketName", "ProcessedBucketName", "RunsTableName", "AlertsTopicArn",
                                                 "DeadLetterQueueUrl", "StateMachineArn")}
    outputs |= {f"{f}RoleArn": f"arn:aws:iam::1:role/{f}" for f in CHALICE_FUNCTIONS}
    assert "subnet_ids" not in stage_config(outputs)
    section = stage_config({**outputs, "FunctionSubnetIds": "subnet-a,subnet-b", "FunctionSecurityGroupId": "sg-1"})
    assert section["subnet_ids"] == ["subnet-a", "subnet-b"] and section["security_group_ids"] == ["sg-1"]


@pytest.mark.parametrize("parameter, accepted, refused", [
    ("VpcId", ["", "vpc-0abc123"], ["subnet-1", "vpc-"]),
    ("SecurityGroupId", ["", "sg-0abc123"], ["vpc-1", "sg-XYZ"]),
    ("ReplicaRegion", ["", "eu-central-1", "us-gov-west-1"], ["eu-central", "EU-WEST-1"]),
    ("ReplicaKeyArn", ["", "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
     ["alias/replica", "arn:aws:kms:eu-central-1:123456789012:alias/replica"]),
])
def test_optional_parameters_take_empty_or_a_well_formed_value(parameter, accepted, refused):
    pattern = merge_template("prod")["Parameters"][parameter]["AllowedPattern"]
    assert [v for v in accepted if not re.fullmatch(pattern, v)] == [] and [v for v in refused if re.fullmatch(pattern, v)] == []


def test_a_vpc_needs_subnets_and_a_replica_region_its_key():
    template = merge_template("prod")
    rules = {name: (rule["RuleCondition"], [a["Assert"] for a in rule["Assertions"]]) for name, rule in template["Rules"].items()}
    assert rules == {
        "VpcNeedsSubnets": ({"Fn::Not": [{"Fn::Equals": [{"Ref": "VpcId"}, ""]}]},
                            [{"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "SubnetIds"}]}, ""]}]}]),
        "ReplicaNeedsKey": ({"Fn::Not": [{"Fn::Equals": [{"Ref": "ReplicaRegion"}, ""]}]},
                            [{"Fn::Not": [{"Fn::Equals": [{"Ref": "ReplicaKeyArn"}, ""]}]}]),
    }
    # and what each option makes exists only when every value it uses is given
    assert template["Conditions"]["HasReplica"] == {"Fn::And": [rules["ReplicaNeedsKey"][0], *rules["ReplicaNeedsKey"][1]]}
    assert template["Conditions"]["HasVpc"] == {"Fn::And": [rules["VpcNeedsSubnets"][0], *rules["VpcNeedsSubnets"][1]]}


def test_everything_that_uses_the_run_table_names_it_by_a_parameter_so_a_restored_table_can_take_over():
    for template in (merge_template("prod"), resources_template("prod")):
        parameter, resources = template["Parameters"][p.TABLE_NAME], template["Resources"]
        # by default the stack's own table
        assert parameter["Default"] == resources[p.TABLE]["Properties"]["TableName"]["Fn::Sub"].replace("${Stage}", "prod")
        # nothing names the table resource itself: each use follows the parameter
        others = json.dumps({**{k: v for k, v in resources.items() if k != p.TABLE}, "Outputs": template["Outputs"]})
        assert not re.search(rf'"{p.TABLE}"|\$\{{{p.TABLE}[.}}]', others)
        table_users = [f for f, name in CHALICE_FUNCTIONS.items()
                       if any(a.startswith("dynamodb:") for g in p.FUNCTION_GRANTS[name] for a in g.actions)]
        assert set(table_users) == {"Ingest", "Validate", "Verdict", "Output", "OnExecutionFailed", "APIHandler"}
        uses = [resources[f"{f}Role"] for f in table_users] + [
            resources["StateMachineRole"], resources[p.MACHINE]["Properties"]["DefinitionSubstitutions"]["RunsTableName"],
            resources["RunsTableThrottlesAlarm"], resources["BackupSelection"], resources["DataEventsTrail"],
            template["Outputs"]["RunsTableName"]]
        assert all(f"{p.TABLE_NAME}" in json.dumps(use) for use in uses)
    assert all(merge_template("prod")["Resources"][f]["Properties"]["Environment"]["Variables"]["RUNS_TABLE"] == {"Ref": p.TABLE_NAME}
               for f in CHALICE_FUNCTIONS)


def test_backups_are_copied_to_the_dr_region_and_the_restore_role_is_published(resources):
    [rule] = resources["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]
    condition, [copy], absent = rule["CopyActions"]["Fn::If"]
    assert condition == "HasReplica" and absent == {"Ref": "AWS::NoValue"}
    assert copy["DestinationBackupVaultArn"]["Fn::Sub"].endswith(":backup:${ReplicaRegion}:${AWS::AccountId}:backup-vault:"
                                                                 "serverless-etl-${Stage}-backups-replica")
    policies = [arn["Fn::Sub"].rsplit("/", 1)[1] for arn in resources["BackupRole"]["Properties"]["ManagedPolicyArns"]]
    assert policies == ["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"]
    outputs = merge_template("prod")["Outputs"]
    assert outputs["BackupRoleArn"] == {"Value": {"Fn::GetAtt": ["BackupRole", "Arn"]}}
    # a stack of the stage in the DR region names its global resources apart (dashboards are global)
    assert "${AWS::Region}" in resources["OperatorDashboard"]["Properties"]["DashboardName"]["Fn::Sub"]
