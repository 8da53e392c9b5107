"""The audit trail: CloudTrail data events for both buckets and the run table, in a bucket of their own.

Optional (``AuditTrail``, ``on`` by default in prod): data events cost $0.10 per 100,000.
The trail records only data events (management events are the account trail's business)
and validates its log files; the audit bucket keeps them a year, in Glacier after 90 days.
"""
from __future__ import annotations

from typing import Any

from infra import permissions as p
from infra.buckets import bucket, bucket_policy
from infra.checks import skip
from infra.naming import APP, stage_name
from infra.permissions import get_arn, ref

AUDIT_TRAIL = "AuditTrail"  # parameter
HAS_AUDIT_TRAIL = "HasAuditTrail"  # condition
AUDIT_BUCKET = "AuditBucket"
TRAIL = "DataEventsTrail"


def trail_arn() -> dict[str, Any]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:${{AWS::AccountId}}:trail/{APP}-${{Stage}}-data-events"}


def parameter(stage: str) -> dict[str, Any]:
    return {AUDIT_TRAIL: {"Type": "String", "AllowedValues": ["on", "off"], "Default": "on" if stage == "prod" else "off",
                          "Description": "CloudTrail data events of both buckets and the run table ($0.10 per 100,000 events)"}}


def condition() -> dict[str, Any]:
    return {HAS_AUDIT_TRAIL: {"Fn::Equals": [ref(AUDIT_TRAIL), "on"]}}


def key_statements() -> list[dict[str, Any]]:
    """What CloudTrail may do with the key: encrypt this trail's log files, and describe the key."""
    principal = {"Service": "cloudtrail.amazonaws.com"}
    return [
        {"Sid": "CloudTrailEncryptsThisTrailsLogs", "Effect": "Allow", "Principal": principal,
         "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn()},
                       "StringEquals": {"aws:SourceArn": trail_arn()}}},
        {"Sid": "CloudTrailDescribesTheKey", "Effect": "Allow", "Principal": principal, "Action": "kms:DescribeKey", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceArn": trail_arn()}}},
    ]


def trail() -> dict[str, Any]:
    only_with_trail = {"Condition": HAS_AUDIT_TRAIL}
    s3_objects = [{"Fn::Sub": f"${{{b}.Arn}}/"} for b in (p.RAW, p.PROCESSED)]
    return {
        AUDIT_BUCKET: {**bucket("audit", [
            {"Id": "audit-logs-to-glacier-then-expire", "Status": "Enabled",
             "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 90}], "ExpirationInDays": 365,
             "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
            {"Id": "expired-delete-markers", "Status": "Enabled", "ExpiredObjectDeleteMarker": True},
        ]), **only_with_trail},
        "AuditBucketPolicy": {**bucket_policy(
            AUDIT_BUCKET,
            {"Sid": "CloudTrailChecksTheBucket", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": get_arn(AUDIT_BUCKET), "Condition": {"StringEquals": {"aws:SourceArn": trail_arn()}}},
            {"Sid": "CloudTrailWritesThisTrailsLogs", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": {"Fn::Sub": f"${{{AUDIT_BUCKET}.Arn}}/AWSLogs/${{AWS::AccountId}}/*"},
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn(), "s3:x-amz-acl": "bucket-owner-full-control"}}},
        ), **only_with_trail},
        TRAIL: {"Type": "AWS::CloudTrail::Trail", "DependsOn": ["AuditBucketPolicy"], **only_with_trail, "Metadata": skip(
            ("CKV_AWS_67", "records the data events of this stack's bucket and table, which live in its region; the "
                           "account's multi-region management trail is the organisation's")), "Properties": {
            "TrailName": stage_name("data-events"),
            "S3BucketName": ref(AUDIT_BUCKET),
            "KMSKeyId": get_arn(p.KEY),
            "IsLogging": True,
            "EnableLogFileValidation": True,
            "IsMultiRegionTrail": False,
            "IncludeGlobalServiceEvents": False,
            "AdvancedEventSelectors": [
                {"Name": "objects of the raw and processed buckets", "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "resources.ARN", "StartsWith": s3_objects}]},
                {"Name": "the run table", "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
                    {"Field": "resources.ARN", "Equals": [p.TABLE_ARN]}]},
            ],
        }},
    }
