"""What `aws cloudformation deploy` and `chalice deploy` need of the emulation, against its HTTP endpoint."""
from __future__ import annotations

import json

import pytest

from etl_local.emulation.apigateway import as_moto_reads_it
from etl_local.emulation.world import LocalAws

TEMPLATE = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "change-set-queue"}}},
            "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}}


@pytest.fixture
def endpoint():
    with LocalAws(endpoint_port=0) as world:
        yield world


def test_a_stack_made_by_a_change_set_from_a_template_on_the_emulations_host_has_its_outputs(endpoint):
    # GIVEN a template uploaded to the emulation's S3, named by a URL on its own host (as aws cloudformation deploy names it)
    s3, cfn = endpoint.client("s3"), endpoint.client("cloudformation")
    s3.create_bucket(Bucket="artefacts")
    s3.put_object(Bucket="artefacts", Key="t.json", Body=json.dumps(TEMPLATE))
    # WHEN a change set creates the stack and is executed
    cfn.create_change_set(StackName="made-by-change-set", ChangeSetName="create", ChangeSetType="CREATE",
                          TemplateURL=f"{endpoint.endpoint_url}/artefacts/t.json")
    cfn.execute_change_set(ChangeSetName="create", StackName="made-by-change-set")
    # THEN the template was read path-style, and the stack has the template's outputs
    [stack] = cfn.describe_stacks(StackName="made-by-change-set")["Stacks"]
    assert [o["OutputKey"] for o in stack["Outputs"]] == ["QueueUrl"] and stack["Outputs"][0]["OutputValue"].endswith("/change-set-queue")


def test_chalices_swagger_2_document_is_imported_and_put(endpoint):
    document = {"swagger": "2.0", "info": {"title": "serverless-etl", "version": "1.0"}, "schemes": ["https"],
                "paths": {"/health": {"get": {"responses": {"200": {"description": "ok"}}, "x-amazon-apigateway-integration": {
                    "type": "aws_proxy", "httpMethod": "POST", "uri": "arn:aws:apigateway:us-east-1:lambda:path/f"}}}}}
    apigateway = endpoint.client("apigateway")
    api = apigateway.import_rest_api(body=json.dumps(document).encode())
    apigateway.put_rest_api(restApiId=api["id"], mode="overwrite", body=json.dumps(document).encode())
    paths = {r["path"] for r in apigateway.get_resources(restApiId=api["id"])["items"]}
    assert api["name"] == "serverless-etl" and paths == {"/", "/health"}
    assert as_moto_reads_it({"openapi": "3.0.1", "info": {}}) == {"openapi": "3.0.1", "info": {}}  # OpenAPI 3 goes through as is
