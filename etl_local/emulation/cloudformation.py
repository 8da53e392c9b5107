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
- ``AWS::KMS::Key``: moto reads ``Tags`` as the KMS API spells them (``TagKey``/``TagValue``) and
  fails on CloudFormation's ``Key``/``Value``, and keeps ``KeyPolicy`` as an object, on which
  DescribeKey fails; here both are given as the API gives them.
- ``AWS::SSM::Parameter``: moto reads ``Tags`` as a Key/Value list; CloudFormation gives a map.  And
  a parameter naming a resource moto skipped (Glue, Athena: its ``Ref`` is empty, which SSM
  refuses) holds :data:`NOT_EMULATED` instead.
- ``AWS::Lambda::EventInvokeConfig`` (unknown to moto): the function's asynchronous retries and
  on-failure destination, which the local EventBridge honours (:mod:`etl_local.emulation.events`).
- ``AWS::NoValue`` in a list (``Policies: [..., {"Fn::If": [cond, policy, {"Ref": "AWS::NoValue"}]}]``):
  CloudFormation drops the element, moto keeps a ``None`` (and IAM then fails on it).
- Resources with a ``Condition`` whose value an update changes: moto leaves them as they were
  (it diffs resources, not conditions).  Here an update creates those whose condition turned
  true and deletes those whose condition turned false.
- Stacks made by a change set (``aws cloudformation deploy`` makes every stack so): moto
  keeps the outputs of the empty template the stack was created with, so the stack has none.
  Here they are those of the template the change set applied.
- ``TemplateURL`` on the emulation's own host (``http://127.0.0.1:8001/bucket/key``): moto
  reads the first label of any host but ``localhost`` as the bucket (``127``).  Here a URL
  whose host is an IP address or ``localhost`` is read path-style, as S3 serves it.

Resource types moto does not know (bucket policies, alarms, Glue, Athena, SNS subscriptions)
are skipped by moto with a warning; nothing of the pipeline's behaviour depends on them locally.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from moto.apigateway.models import RestAPI, apigateway_backends
from moto.awslambda.exceptions import UnknownEventConfig, UnknownFunctionException
from moto.awslambda.models import lambda_backends
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing
from moto.cloudformation import responses as cloudformation_responses
from moto.cloudformation.models import CloudFormationBackend
from moto.core.common_models import CloudFormationModel
from moto.kms.models import Key
from moto.s3.models import FakeBucket, s3_backends
from moto.ssm.models import Parameter
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


def _key_as_the_api_creates_it(original):
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any):
        properties = dict(cloudformation_json["Properties"])
        properties["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])]
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return original.__func__(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id, region_name, **kwargs)

    return create


NOT_EMULATED = "not-emulated"


def _parameter_with_tags(original):
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any):
        properties = dict(cloudformation_json["Properties"])
        properties["Tags"] = [{"Key": k, "Value": v} for k, v in properties.get("Tags", {}).items()]
        properties["Value"] = properties.get("Value") or NOT_EMULATED
        return original.__func__(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id, region_name, **kwargs)

    return create


class EventInvokeConfig(CloudFormationModel):
    """``AWS::Lambda::EventInvokeConfig``: stored on the function as moto's PutFunctionEventInvokeConfig stores it."""

    def __init__(self, function_name: str, account_id: str, region_name: str) -> None:
        self.function_name, self.account_id, self.region_name = function_name, account_id, region_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @property
    def physical_resource_id(self) -> str:
        return self.function_name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str, **kwargs: Any) -> EventInvokeConfig:
        properties = dict(cloudformation_json["Properties"])
        function_name = properties.pop("FunctionName")
        properties.pop("Qualifier", None)
        lambda_backends[account_id][region_name].put_function_event_invoke_config(function_name, properties)
        return cls(function_name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> EventInvokeConfig:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        # The function may be gone already (`chalice delete` before the stack): nothing left to remove then.
        with contextlib.suppress(UnknownFunctionException, UnknownEventConfig):
            lambda_backends[account_id][region_name].delete_function_event_invoke_config(self.function_name)


_ADDED_TYPES = {EventInvokeConfig.cloudformation_type(): EventInvokeConfig}


def _resource_class_with_added_types(original):
    def resource_class_from_type(resource_type: str) -> type[CloudFormationModel]:
        return _ADDED_TYPES.get(resource_type) or original(resource_type)

    return resource_class_from_type


def _lists_without_no_value(original):
    def clean_json(resource_json: Any, resources_map: parsing.ResourceMap) -> Any:
        if isinstance(resource_json, list):
            return [value for value in (clean_json(item, resources_map) for item in resource_json) if value is not None]
        return original(resource_json, resources_map)

    return clean_json


def _updating_only_what_exists(original):
    def parse_and_update_resource(logical_id: str, resource_json: dict[str, Any], resources_map: parsing.ResourceMap,
                                  account_id: str, region_name: str) -> Any:
        # moto "modifies" a resource whose parameters changed even if its condition kept it from being created
        if resources_map._parsed_resources.get(logical_id) is None:
            return None
        return original(logical_id, resource_json, resources_map, account_id, region_name)

    return parse_and_update_resource


def _update_with_conditions(original):
    def update(resource_map: parsing.ResourceMap, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        original(resource_map, template, parameters)
        for logical_id in [k for k, v in resource_map._parsed_resources.items() if v is None and k in template["Resources"]]:
            del resource_map._parsed_resources[logical_id]  # the skipped "modifications" above
        for logical_id, resource in template["Resources"].items():
            if "Condition" not in resource:
                continue
            wanted, created = resource_map.lazy_condition_map[resource["Condition"]], logical_id in resource_map._parsed_resources
            if wanted and not created:
                resource_map[logical_id]  # moto creates a resource (and what it refers to) on first lookup
            elif created and not wanted:
                resource_map._delete_resource(resource_map._parsed_resources.pop(logical_id), resource)

    return update


def _execute_change_set_with_outputs(original):
    def execute_change_set(backend: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        original(backend, change_set_name, stack_name)
        change_set = backend.describe_change_set(change_set_name)
        stack = backend.stacks[change_set.stack_id]
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    return execute_change_set


def _template_on_own_host_path_style(original):
    def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
        host = urlsplit(template_url).hostname or ""
        if _is_address(host):  # same reading as moto's for localhost: /bucket/key
            template_url = template_url.replace(host, "localhost", 1)
        return original(template_url, account_id, partition)

    return get_stack_from_s3_url


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@contextlib.contextmanager
def installed() -> Iterator[None]:
    read_template = _template_on_own_host_path_style(cloudformation_models.get_stack_from_s3_url)
    with mock.patch.object(parsing, "resource_class_from_type", _resource_class_with_added_types(parsing.resource_class_from_type)), \
            mock.patch.object(parsing, "clean_json", _lists_without_no_value(parsing.clean_json)), \
            mock.patch.object(parsing, "parse_and_update_resource", _updating_only_what_exists(parsing.parse_and_update_resource)), \
            mock.patch.object(parsing.ResourceMap, "update", _update_with_conditions(parsing.ResourceMap.update)), \
            mock.patch.object(CloudFormationBackend, "execute_change_set",
                              _execute_change_set_with_outputs(CloudFormationBackend.execute_change_set)), \
            mock.patch.object(cloudformation_models, "get_stack_from_s3_url", read_template), \
            mock.patch.object(cloudformation_responses, "get_stack_from_s3_url", read_template), \
            mock.patch.object(Parameter, "create_from_cloudformation_json",
                              classmethod(_parameter_with_tags(Parameter.create_from_cloudformation_json))), \
            mock.patch.object(Key, "create_from_cloudformation_json", classmethod(_key_as_the_api_creates_it(Key.create_from_cloudformation_json))), \
            mock.patch.object(StateMachine, "create_from_cloudformation_json", classmethod(_state_machine)), \
            mock.patch.object(StateMachine, "update_from_cloudformation_json", classmethod(_update_state_machine)), \
            mock.patch.object(StateMachine, "delete_from_cloudformation_json", classmethod(_delete_state_machine)), \
            mock.patch.object(FakeBucket, "create_from_cloudformation_json",
                              classmethod(_bucket_with_settings(FakeBucket.create_from_cloudformation_json))), \
            mock.patch.object(RestAPI, "create_from_cloudformation_json",
                              classmethod(_rest_api_from_body(RestAPI.create_from_cloudformation_json))):
        yield
