"""The VPC option: functions in an existing VPC's private subnets, reaching AWS through endpoints only.

Off by default (interface endpoints are billed by the hour).  With ``VpcId`` and
``SubnetIds`` set, every function runs in those subnets with a security group allowing
only HTTPS egress (or ``SecurityGroupId``), gateway endpoints for S3 and DynamoDB on
``RouteTableIds``, and an interface endpoint for every other service a function calls:
the services of the permission table's actions (:func:`interface_services`).

Every value of a parameter is used only under a condition that it is not empty (a
stack rule refuses ``VpcId`` without ``SubnetIds``), so an empty default never reaches
a property that wants an id.
"""
from __future__ import annotations

from typing import Any

from infra import permissions as p
from infra.naming import stage_name, tags
from infra.permissions import not_empty, ref

HAS_VPC = "HasVpc"
HAS_SECURITY_GROUP_ID = "HasSecurityGroupId"
CREATES_SECURITY_GROUP = "CreatesFunctionSecurityGroup"
HAS_ROUTE_TABLES = "HasRouteTables"
FUNCTION_SECURITY_GROUP = "FunctionSecurityGroup"
ENDPOINT_SECURITY_GROUP = "EndpointSecurityGroup"
GATEWAY_SERVICES = ("s3", "dynamodb")
# Called by the Lambda runtime from inside the function's network, not by the code (so not in its grants).
RUNTIME_SERVICES = ("logs", "xray")


def interface_services() -> list[str]:
    """Every service a function calls, or its runtime does, that has no gateway endpoint."""
    called = {action.split(":")[0] for grants in p.FUNCTION_GRANTS.values() for grant in grants for action in grant.actions}
    return sorted((called | set(RUNTIME_SERVICES)) - set(GATEWAY_SERVICES))


def parameters() -> dict[str, Any]:
    return {
        "VpcId": {"Type": "String", "Default": "", "AllowedPattern": "^(vpc-[0-9a-f]+)?$",
                  "Description": "Run the functions in this VPC (empty: no VPC, no endpoints); SubnetIds then too"},
        "SubnetIds": {"Type": "CommaDelimitedList", "Default": "", "Description": "Private subnets of VpcId for the functions"},
        "RouteTableIds": {"Type": "CommaDelimitedList", "Default": "",
                          "Description": "Route tables of those subnets, for the S3 and DynamoDB gateway endpoints"},
        "SecurityGroupId": {"Type": "String", "Default": "", "AllowedPattern": "^(sg-[0-9a-f]+)?$",
                            "Description": "The functions' security group (empty: one allowing HTTPS egress only)"},
    }


def _listed(parameter: str) -> dict[str, Any]:
    """A list parameter as one string, empty when the list is."""
    return {"Fn::Join": ["", ref(parameter)]}


def conditions() -> dict[str, Any]:
    return {
        HAS_VPC: {"Fn::And": [not_empty(ref("VpcId")), not_empty(_listed("SubnetIds"))]},
        HAS_SECURITY_GROUP_ID: not_empty(ref("SecurityGroupId")),
        CREATES_SECURITY_GROUP: {"Fn::And": [{"Condition": HAS_VPC}, {"Fn::Not": [{"Condition": HAS_SECURITY_GROUP_ID}]}]},
        HAS_ROUTE_TABLES: {"Fn::And": [{"Condition": HAS_VPC}, not_empty(_listed("RouteTableIds"))]},
    }


def rules() -> dict[str, Any]:
    """Refuse a VPC without subnets, rather than leave the functions out of it."""
    return {"VpcNeedsSubnets": {"RuleCondition": not_empty(ref("VpcId")), "Assertions": [
        {"Assert": not_empty(_listed("SubnetIds")), "AssertDescription": "VpcId needs SubnetIds: the private subnets of the functions"}]}}


def function_security_group() -> dict[str, Any]:
    return {"Fn::If": [HAS_SECURITY_GROUP_ID, ref("SecurityGroupId"), ref(FUNCTION_SECURITY_GROUP)]}


def vpc_config() -> dict[str, Any]:
    """A function's ``VpcConfig``: the subnets and security group, or nothing without a VPC."""
    return {"Fn::If": [HAS_VPC, {"SubnetIds": ref("SubnetIds"), "SecurityGroupIds": [function_security_group()]}, ref("AWS::NoValue")]}


def network_interface_policy() -> dict[str, Any]:
    """The policy a function role gets with the VPC option (Lambda makes the ENIs with it)."""
    return {"Fn::If": [HAS_VPC, {"PolicyName": "vpc-network-interfaces",
                                 "PolicyDocument": p.policy_document(p.NETWORK_INTERFACE_GRANTS)}, ref("AWS::NoValue")]}


def _https(peer: dict[str, Any], description: str) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Description": description, **peer}


def endpoints() -> dict[str, Any]:
    resources: dict[str, Any] = {
        FUNCTION_SECURITY_GROUP: {"Type": "AWS::EC2::SecurityGroup", "Condition": CREATES_SECURITY_GROUP, "Properties": {
            "GroupName": stage_name("functions"), "GroupDescription": "serverless-etl functions: HTTPS out, nothing in",
            "VpcId": ref("VpcId"),
            "SecurityGroupEgress": [_https({"CidrIp": "0.0.0.0/0"}, "HTTPS to AWS APIs (through the VPC endpoints)")],
            "Tags": tags("network")}},
        ENDPOINT_SECURITY_GROUP: {"Type": "AWS::EC2::SecurityGroup", "Condition": HAS_VPC, "Properties": {
            "GroupName": stage_name("endpoints"), "GroupDescription": "serverless-etl interface endpoints: HTTPS from the functions",
            "VpcId": ref("VpcId"),
            "SecurityGroupIngress": [_https({"SourceSecurityGroupId": function_security_group()}, "HTTPS from the functions")],
            "SecurityGroupEgress": [_https({"CidrIp": "127.0.0.1/32"}, "nothing: endpoints only answer")],
            "Tags": tags("network")}},
    }
    for service in GATEWAY_SERVICES:
        resources[f"{service.capitalize()}GatewayEndpoint"] = {"Type": "AWS::EC2::VPCEndpoint", "Condition": HAS_ROUTE_TABLES, "Properties": {
            "VpcId": ref("VpcId"), "VpcEndpointType": "Gateway", "RouteTableIds": ref("RouteTableIds"),
            "ServiceName": {"Fn::Sub": f"com.amazonaws.${{AWS::Region}}.{service}"}}}
    for service in interface_services():
        resources[f"{service.capitalize()}InterfaceEndpoint"] = {"Type": "AWS::EC2::VPCEndpoint", "Condition": HAS_VPC, "Properties": {
            "VpcId": ref("VpcId"), "VpcEndpointType": "Interface", "PrivateDnsEnabled": True,
            "SubnetIds": ref("SubnetIds"), "SecurityGroupIds": [ref(ENDPOINT_SECURITY_GROUP)],
            "ServiceName": {"Fn::Sub": f"com.amazonaws.${{AWS::Region}}.{service}"}}}
    return resources
