"""Backup and DR: an AWS Backup plan for the run table, and optional cross-region copies of processed data and backups.

The run table has point-in-time recovery (35 days, to the second) and a daily backup kept
35 days in a vault encrypted with the stack's key.  With ``ReplicaRegion`` (and
``ReplicaKeyArn``, a key in that region) set, the processed bucket replicates ``processed/``
and ``manifests/`` to ``serverless-etl-<stage>-processed-replica-<account>-<ReplicaRegion>``,
delete markers included, and each daily backup is copied to the vault
``serverless-etl-<stage>-backups-replica`` in that region; both must exist first (README,
"Backup and disaster recovery").  ``RunsTableName`` points the stack at a restored table.
"""
from __future__ import annotations

from typing import Any

from chalicelib.keys import MANIFEST_ROOT, PROCESSED_ROOT
from infra import permissions as p
from infra.buckets import PROCESSED_BUCKET, bucket_arn
from infra.naming import APP, name_in_stage, stage_name
from infra.permissions import get_arn, not_empty, ref

VAULT = "BackupVault"
BACKUP_ROLE = "BackupRole"
REPLICA_VAULT = "backups-replica"  # serverless-etl-<stage>-backups-replica, in ReplicaRegion
RUNS_TABLE = "runs"  # the suffix of the stack's own run table: serverless-etl-<stage>-runs
HAS_REPLICA = "HasReplica"
REPLICATED_PREFIXES = (f"{PROCESSED_ROOT}/", f"{MANIFEST_ROOT}/")
RETENTION_DAYS = 35


def replica_bucket_arn() -> dict[str, Any]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{APP}-${{Stage}}-processed-replica-${{AWS::AccountId}}-${{ReplicaRegion}}"}


def parameters(stage: str) -> dict[str, Any]:
    return {
        p.TABLE_NAME: {"Type": "String", "Default": name_in_stage(stage, RUNS_TABLE), "AllowedPattern": "^[a-zA-Z0-9_.-]{3,255}$",
                       "Description": "The run table the functions, the state machine, the alarms, the backups and the trail use: "
                                      "the stack's own (the default), or one restored from a backup (README: Backup and disaster recovery)"},
        "ReplicaRegion": {"Type": "String", "Default": "", "AllowedPattern": "^([a-z]{2}(-[a-z]+)+-[0-9])?$",
                          "Description": "Replicate processed data to this region (empty: no replication); ReplicaKeyArn then too"},
        "ReplicaKeyArn": {"Type": "String", "Default": "", "AllowedPattern": "^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+)?$",
                          "Description": "The KMS key in ReplicaRegion that encrypts the replica"},
    }


def conditions() -> dict[str, Any]:
    return {HAS_REPLICA: {"Fn::And": [not_empty(ref("ReplicaRegion")), not_empty(ref("ReplicaKeyArn"))]}}


def rules() -> dict[str, Any]:
    """Refuse a replica region without the key that encrypts the replica, rather than not replicate."""
    return {"ReplicaNeedsKey": {"RuleCondition": not_empty(ref("ReplicaRegion")), "Assertions": [
        {"Assert": not_empty(ref("ReplicaKeyArn")), "AssertDescription": "ReplicaRegion needs ReplicaKeyArn: a KMS key in that region"}]}}


def table_backups() -> dict[str, Any]:
    return {
        VAULT: {"Type": "AWS::Backup::BackupVault", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": {
            "BackupVaultName": stage_name("backups"), "EncryptionKeyArn": get_arn(p.KEY)}},
        "BackupPlan": {"Type": "AWS::Backup::BackupPlan", "Properties": {"BackupPlan": {
            "BackupPlanName": stage_name("run-table-daily"),
            "BackupPlanRule": [{"RuleName": "daily", "TargetBackupVault": ref(VAULT), "ScheduleExpression": "cron(0 3 * * ? *)",
                                "StartWindowMinutes": 60, "CompletionWindowMinutes": 180,
                                "Lifecycle": {"DeleteAfterDays": RETENTION_DAYS},
                                "CopyActions": {"Fn::If": [HAS_REPLICA, [{"DestinationBackupVaultArn": replica_vault_arn(),
                                                                          "Lifecycle": {"DeleteAfterDays": RETENTION_DAYS}}],
                                                           ref("AWS::NoValue")]}}]}}},
        BACKUP_ROLE: {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            # AWS maintains what Backup needs to back a table up, copy and restore it (DynamoDB, KMS grants, tags): its managed
            # policies.  The restore jobs of the runbook run with this role too (the BackupRoleArn output).
            "ManagedPolicyArns": [{"Fn::Sub": f"arn:${{AWS::Partition}}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyFor{use}"}
                                  for use in ("Backup", "Restores")]}},
        "BackupSelection": {"Type": "AWS::Backup::BackupSelection", "Properties": {
            "BackupPlanId": ref("BackupPlan"),
            "BackupSelection": {"SelectionName": "run-table", "IamRoleArn": get_arn(BACKUP_ROLE), "Resources": [p.TABLE_ARN]}}},
    }


def replica_vault_arn() -> dict[str, Any]:
    """The vault in ``ReplicaRegion`` that receives a copy of each daily backup (made before a disaster: README)."""
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:backup:${{ReplicaRegion}}:${{AWS::AccountId}}:backup-vault:{APP}-${{Stage}}-{REPLICA_VAULT}"}


def outputs() -> dict[str, Any]:
    """What the runbook's restore commands name: the role AWS Backup restores with."""
    return {"BackupRoleArn": {"Value": get_arn(BACKUP_ROLE)}}


def replication_configuration() -> dict[str, Any]:
    """The processed bucket's ``ReplicationConfiguration``: nothing without ``ReplicaRegion``."""
    rules = [{"Id": f"{prefix.rstrip('/')}-to-dr", "Status": "Enabled", "Priority": priority, "Filter": {"Prefix": prefix},
              "DeleteMarkerReplication": {"Status": "Enabled"},
              "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
              "Destination": {"Bucket": replica_bucket_arn(), "EncryptionConfiguration": {"ReplicaKmsKeyID": ref("ReplicaKeyArn")}}}
             for priority, prefix in enumerate(REPLICATED_PREFIXES, start=1)]
    return {"Fn::If": [HAS_REPLICA, {"Role": get_arn("ReplicationRole"), "Rules": rules}, ref("AWS::NoValue")]}


def replication_role() -> dict[str, Any]:
    """The role S3 replicates with.  It names the processed bucket by its ARN built from its name, not ``GetAtt``:
    the bucket's replication configuration names the role, and CloudFormation refuses a cycle."""
    processed = bucket_arn(PROCESSED_BUCKET)
    source = [{"Fn::Sub": [f"${{bucket}}/{prefix}*", {"bucket": processed}]} for prefix in REPLICATED_PREFIXES]
    statements = [
        {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": [processed]},
        {"Effect": "Allow", "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
         "Resource": source},
        {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
         "Resource": [{"Fn::Sub": [f"${{replica}}/{prefix}*", {"replica": replica_bucket_arn()}]} for prefix in REPLICATED_PREFIXES]},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [get_arn(p.KEY)],
         "Condition": {"StringLike": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}}},
        {"Effect": "Allow", "Action": ["kms:Encrypt"], "Resource": [ref("ReplicaKeyArn")],
         "Condition": {"StringLike": {"kms:ViaService": {"Fn::Sub": "s3.${ReplicaRegion}.amazonaws.com"}}}},
    ]
    return {"ReplicationRole": {"Type": "AWS::IAM::Role", "Condition": HAS_REPLICA, "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "replicate-processed-data", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]}}}
