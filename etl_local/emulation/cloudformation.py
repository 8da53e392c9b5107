"""What moto's CloudFormation leaves out of the resources the pipeline's stack uses.

- ``AWS::StepFunctions::StateMachine``: moto ignores ``DefinitionSubstitutions`` and creates,
  updates and deletes the machine in the backend that does not execute; here the definition is
  rendered as on AWS, in the backend in use.
- ``AWS::S3::Bucket``: moto applies only encryption and tags; here versioning and the
  EventBridge notification setting are applied too.
- ``AWS::ApiGateway::RestApi``: moto requires ``Name`` and ignores ``Body``; AWS imports the
  body.  Here the name comes from the body's title and each path and method of the body
  becomes a resource with its Lambda proxy integration, so the deployment and stage are
  created as on AWS (moto cannot serve the routes: ``etl serve`` does).

Resource types moto does not know (bucket policies, alarms, Glue, Athena, SNS subscriptions)
are skipped by moto with a warning; nothing of the pipeline's behaviour depends on them locally.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

from moto.apigateway.models import RestAPI, apigateway_backends
from moto.s3.models import FakeBucket, s3_backends
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.utils import get_partition

from infra.definition import render


def _definition(properties: dict[str, Any]) -> str:
    text = properties.get("DefinitionString") or json.dumps(properties["Definition"])
    return render(text, properties.get("DefinitionSubstitutions", {}))


def _state_machine(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any):
    properties = cloudformation_json["Properties"]
    return stepfunctions_backend(account_id, region_name).create_state_machine(
        properties.get("StateMachineName", resource_name), _definition(properties), properties.get("RoleArn", ""))


def _update_state_machine(cls: type, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                          account_id: str, region_name: str):
    properties = cloudformation_json["Properties"]
    backend = stepfunctions_backend(account_id, region_name)
    backend.update_state_machine(original_resource.arn, definition=_definition(properties), role_arn=properties.get("RoleArn"))
    return backend.describe_state_machine(original_resource.arn)


def _delete_state_machine(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str):
    stepfunctions_backend(account_id, region_name).delete_state_machine(resource_name)


def _bucket_with_settings(original):
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any):
        bucket = original.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = s3_backends[account_id][get_partition(region_name)]
        if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            backend.put_bucket_versioning(resource_name, "Enabled")
        if properties.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            backend.put_bucket_notification_configuration(resource_name, {"EventBridgeConfiguration": {}})
        return bucket

    return create


def _rest_api_from_body(original):
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any):
        properties = cloudformation_json["Properties"]
        body = properties.get("Body", {})
        if "Name" not in properties:
            properties = {**properties, "Name": body.get("info", {}).get("title", resource_name)}
        api = original.__func__(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id, region_name, **kwargs)
        backend = apigateway_backends[account_id][region_name]
        for path, methods in body.get("paths", {}).items():
            resource = api.default
            for part in filter(None, path.split("/")):
                existing = next((r for r in api.resources.values() if r.parent_id == resource.id and r.path_part == part), None)
                resource = existing or backend.create_resource(api.id, resource.id, part)
            for method, operation in methods.items():
                integration = operation.get("x-amazon-apigateway-integration", {})
                backend.put_method(api.id, resource.id, method.upper(), "AWS_IAM" if operation.get("security") else "NONE")
                backend.put_integration(api.id, resource.id, method.upper(), integration.get("type", "aws_proxy").upper(),
                                        str(integration.get("uri", "")), integration.get("httpMethod", "POST"))
        return api

    return create


@contextlib.contextmanager
def installed() -> Iterator[None]:
    with mock.patch.object(StateMachine, "create_from_cloudformation_json", classmethod(_state_machine)), \
            mock.patch.object(StateMachine, "update_from_cloudformation_json", classmethod(_update_state_machine)), \
            mock.patch.object(StateMachine, "delete_from_cloudformation_json", classmethod(_delete_state_machine)), \
            mock.patch.object(FakeBucket, "create_from_cloudformation_json",
                              classmethod(_bucket_with_settings(FakeBucket.create_from_cloudformation_json))), \
            mock.patch.object(RestAPI, "create_from_cloudformation_json",
                              classmethod(_rest_api_from_body(RestAPI.create_from_cloudformation_json))):
        yield
