"""The stack's buckets: private, versioned, TLS-only, KMS-encrypted unless S3 forbids it, with server access logs."""
from __future__ import annotations

from typing import Any

from infra import permissions as p
from infra.checks import skip
from infra.naming import APP
from infra.permissions import get_arn, ref

ACCESS_LOGS = "AccessLogsBucket"
RAW_BUCKET, PROCESSED_BUCKET = "raw", "processed"  # the suffixes of their names
ABORT_INCOMPLETE_UPLOADS = {"Id": "abort-incomplete-uploads", "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}


def bucket_name(suffix: str) -> dict[str, Any]:
    # Bucket names are global: the account id and region keep them unique.
    return {"Fn::Sub": f"{APP}-${{Stage}}-{suffix}-${{AWS::AccountId}}-${{AWS::Region}}"}


def bucket_arn(suffix: str) -> dict[str, Any]:
    """The ARN of the stack's bucket ``suffix``, known before the bucket exists (``GetAtt`` would depend on it)."""
    return {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${name}", {"name": bucket_name(suffix)}]}


def bucket(suffix: str, lifecycle: list[dict[str, Any]], *, event_bridge: bool = False, kms: bool = True,
           access_logs: bool = True, **properties: Any) -> dict[str, Any]:
    """A retained bucket ``serverless-etl-<stage>-<suffix>-<account>-<region>`` with the given lifecycle rules.

    ``kms=False`` is for the access-log bucket: S3 delivers server access logs only to
    buckets encrypted with S3-managed keys.
    """
    encryption = ({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": get_arn(p.KEY)} if kms else {"SSEAlgorithm": "AES256"})
    body: dict[str, Any] = {
        "BucketName": bucket_name(suffix),
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": encryption, **({"BucketKeyEnabled": True} if kms else {})}]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "LifecycleConfiguration": {"Rules": [*lifecycle, ABORT_INCOMPLETE_UPLOADS]},
        **properties,
    }
    if access_logs:
        body["LoggingConfiguration"] = {"DestinationBucketName": ref(ACCESS_LOGS), "LogFilePrefix": f"{suffix}/"}
    if event_bridge:
        body["NotificationConfiguration"] = {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    return {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": body}


def deny_insecure_transport(logical_id: str) -> dict[str, Any]:
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [get_arn(logical_id), {"Fn::Sub": f"${{{logical_id}.Arn}}/*"}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def bucket_policy(logical_id: str, *allows: dict[str, Any]) -> dict[str, Any]:
    """TLS only, plus what ``allows`` lets services do."""
    return {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": ref(logical_id), "PolicyDocument": {
        "Version": "2012-10-17", "Statement": [deny_insecure_transport(logical_id), *allows]}}}


def access_logs() -> dict[str, Any]:
    """The bucket that receives the server access logs of every other bucket of the stage (90 days)."""
    return {
        ACCESS_LOGS: bucket("access-logs", [
            {"Id": "access-logs-expire", "Status": "Enabled", "ExpirationInDays": 90, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
            {"Id": "expired-delete-markers", "Status": "Enabled", "ExpiredObjectDeleteMarker": True},
        ], kms=False, access_logs=False) | {"Metadata": skip(
            ("CKV_AWS_18", "the access-log bucket itself: logging it would log its own log deliveries"))},
        "AccessLogsBucketPolicy": bucket_policy(ACCESS_LOGS, {
            "Sid": "ServerAccessLogsOfThisStagesBuckets", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": {"Fn::Sub": f"${{{ACCESS_LOGS}.Arn}}/*"},
            "Condition": {"ArnLike": {"aws:SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{APP}-${{Stage}}-*"}},
                          "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}),
    }
