"""The packaged stack (chalice package + merge template): lint-clean, every reference resolves, columns match the data."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from cfnlint.api import lint_file
from cfnlint.config import ManualArgs

from chalicelib.config import DEFAULT_SCHEMAS_DIR
from chalicelib.datasets import DatasetRegistry
from etl_local.emulation.world import LocalAws
from etl_local.runner import run_file
from infra.package import package
from infra.template import glue_type
from tests.conftest import SAMPLES

PSEUDO_PARAMETERS = {"AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue"}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("package")
    path = package("prod", out, region="us-east-1", with_dependencies=False)
    return {"path": path, "template": json.loads(path.read_text())}


# cfn-lint rules this project ignores, each with the reason (none: every error and warning fails the test).
IGNORED_LINT_RULES: dict[str, str] = {}


def lint_findings(path: Path) -> list[str]:
    """cfn-lint's errors and warnings on the template at ``path`` (its informational notes are off, as by default),
    but those of :data:`IGNORED_LINT_RULES`."""
    matches = lint_file(path, config=ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id not in IGNORED_LINT_RULES]


def test_the_lint_check_sees_errors_and_warnings(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Parameters": {"Unused": {"Type": "String"}}, "Resources": {
        "A": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["B", "Arn"]},
                                                                          "maxReceiveCount": 3}}},
        "B": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["A", "Arn"]},
                                                                          "maxReceiveCount": 3}}}}}))
    rules = {finding.split()[0] for finding in lint_findings(path)}
    assert {"E3004", "W2001"} <= rules  # a circular dependency; a parameter no resource uses


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_packaged_template_is_lint_clean(stage, packaged, tmp_path):
    path = packaged["path"] if stage == "prod" else package(stage, tmp_path, region="us-east-1", with_dependencies=False)
    assert lint_findings(path) == []


def _references(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text, local = (value[0], set(value[1])) if isinstance(value, list) else (value, set())
                found.update(n.split(".")[0] for n in re.findall(r"\$\{([^!}][^}]*)\}", text) if n not in local)
            _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)
    return found


def test_every_reference_resolves(packaged):
    template = packaged["template"]
    known = set(template["Resources"]) | set(template.get("Parameters", {})) | PSEUDO_PARAMETERS
    machine = template["Resources"]["EtlStateMachine"]["Properties"]
    # The definition's ${...} are DefinitionSubstitutions, not Fn::Sub: check them apart.
    unresolved = _references({k: v for k, v in template.items() if k != "Resources"}, set()) | _references(
        {k: v for k, v in template["Resources"].items() if k != "EtlStateMachine"}, set())
    unresolved |= _references(machine["DefinitionSubstitutions"], set())
    assert unresolved - known == set()


def test_chalice_makes_no_role_of_its_own(packaged):
    resources = packaged["template"]["Resources"]
    assert "DefaultRole" not in resources
    functions = {k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    assert functions == {"Ingest", "Validate", "Transform", "Verdict", "Output", "OnExecutionFailed", "APIHandler"}
    assert all(resources[f]["Properties"]["Role"] == {"Fn::GetAtt": [f"{f}Role", "Arn"]} for f in functions)
    assert resources["EtlStateMachine"]["Type"] == "AWS::StepFunctions::StateMachine"  # one stack holds everything
    assert packaged["template"]["Parameters"]["Stage"]["Default"] == "prod"


def test_no_statement_anywhere_allows_a_wildcard_action(packaged):
    actions = []

    def collect(node):
        if isinstance(node, dict):
            if node.get("Effect") == "Allow":
                value = node.get("Action", [])
                actions.extend(value if isinstance(value, list) else [value])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    resources = packaged["template"]["Resources"]
    collect({k: v for k, v in resources.items() if v["Type"] != "AWS::KMS::Key"})  # a key policy names its admins
    assert actions and not [a for a in actions if "*" in a]


TRANSACTIONS_COLUMNS = [
    ("transaction_id", "string"), ("timestamp", "timestamp"), ("user_id", "string"), ("amount", "double"),
    ("currency", "string"), ("merchant", "string"), ("amount_category", "string"), ("is_high_value", "boolean"),
    ("transaction_date", "date"), ("record_id", "string"), ("processed_at", "timestamp"), ("source_bucket", "string"),
    ("source_key", "string"), ("source_version", "string"), ("run_id", "string"),
]


def test_glue_columns_match_the_parquet_the_pipeline_writes(packaged, tmp_path):
    registry = DatasetRegistry(DEFAULT_SCHEMAS_DIR)
    tables = {r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
              for r in packaged["template"]["Resources"].values() if r["Type"] == "AWS::Glue::Table"}
    samples = {"transactions": SAMPLES / "transactions.jsonl", "user_actions": SAMPLES / "user_actions.csv",
               "metrics": SAMPLES / "metrics.json"}
    assert set(tables) == set(registry.names()) == set(samples)
    with LocalAws() as world:
        for dataset, sample in samples.items():
            report = run_file(world, sample, dataset, tmp_path, registry)
            assert report.status == "SUCCEEDED" and report.outputs
            written = pq.read_schema(report.outputs[0])
            columns = [(c["Name"], c["Type"]) for c in tables[dataset]["StorageDescriptor"]["Columns"]]
            assert columns == [(f.name, glue_type(f.type)) for f in written], dataset
            partitions = [part.split("=") for part in Path(report.outputs[0]).parent.parts if "=" in part]
            assert [k["Name"] for k in tables[dataset]["PartitionKeys"]] == [name for name, _ in partitions]
            parameters = tables[dataset]["Parameters"]
            assert all(len(value) == int(parameters[f"projection.{name}.digits"]) for name, value in partitions)
    # and the types Athena sees, written out independently of the code that derives them
    assert [(c["Name"], c["Type"]) for c in tables["transactions"]["StorageDescriptor"]["Columns"]] == TRANSACTIONS_COLUMNS


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_resources_stack_of_the_chalice_deploy_path_is_lint_clean(stage, tmp_path):
    from infra.template import resources_template

    path = tmp_path / "resources.json"
    path.write_text(json.dumps(resources_template(stage)))
    assert lint_findings(path) == []


CHECKOV = Path(os.environ.get("ETL_CHECKOV", Path(__file__).parents[2] / ".venv-checkov" / "bin" / "checkov"))


def test_checkov_finds_nothing_and_every_skip_says_why(packaged):
    # checkov pins an older boto3 than the project's: .ci/prepare installs it in a venv of its own
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run .ci/prepare (needs PyPI)")
    result = subprocess.run([str(CHECKOV), "-f", str(packaged["path"]), "--framework", "cloudformation", "--quiet", "--compact",
                             "-o", "json"], capture_output=True, text=True, timeout=600)
    report = json.loads(result.stdout)
    assert report["summary"]["failed"] == 0, [(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]]
    assert report["summary"]["passed"] > 150
    skips = [skip for resource in packaged["template"]["Resources"].values()
             for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips and all(len(skip["comment"]) > 20 for skip in skips)


def test_the_packaged_functions_trace_and_have_their_configured_reserved_concurrency(packaged):
    from infra.cost import reserved_concurrency
    from infra.template import CHALICE_FUNCTIONS

    resources = packaged["template"]["Resources"]
    for logical_id, name in CHALICE_FUNCTIONS.items():
        properties = resources[logical_id]["Properties"]
        assert properties["ReservedConcurrentExecutions"] == reserved_concurrency("prod", name)
        assert properties["Tracing"] == "Active"
        assert {"app", "stage", "component"} <= set(properties["Tags"])
