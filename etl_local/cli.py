"""The ``etl`` command."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.config import DEFAULT_SCHEMAS_DIR, chunk_mb_problem
from chalicelib.datasets import DatasetRegistry
from chalicelib.run_record import RUN_STATUSES
from etl_local import views
from etl_local.client import DEFAULT_API, ApiClient, ApiError

if TYPE_CHECKING:
    from etl_local.emulation.faults import Fault

EXIT_SUCCEEDED = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_FAILED = 4
# A run a newer version of its key superseded did what it should (the newer one's data stands): success.
EXIT_CODES = {"SUCCEEDED": EXIT_SUCCEEDED, "SUPERSEDED": EXIT_SUCCEEDED, "REJECTED": EXIT_REJECTED, "FAILED": EXIT_FAILED}

RUN_EPILOG = f"""\
exit status:
  {EXIT_SUCCEEDED}  every run SUCCEEDED (invalid records, if any, were quarantined) or was SUPERSEDED by a newer version
  {EXIT_ERROR}  the local runtime itself failed
  {EXIT_USAGE}  usage error (bad option, missing file, dataset not inferable)
  {EXIT_REJECTED}  a run was REJECTED: too many invalid records, or an unusable file
  {EXIT_FAILED}  a run FAILED: a step raised an error that retries did not clear
With several files, the highest of these codes wins.

examples:
  etl run samples/                                  every sample file
  etl run samples/transactions.jsonl --json         one run, JSON report
  etl run data.csv --dataset metrics --out /tmp/o   name the dataset
  etl run samples/transactions.jsonl --fail transform:TransientError:2
"""


SERVE_EPILOG = """\
examples:
  etl serve                                         API on :8000, AWS endpoint on :8001
  etl serve --fail transform:RuntimeError:1         the first Transform invocation fails (try a redrive)
  aws --endpoint-url http://127.0.0.1:8001 s3 cp samples/transactions.jsonl s3://serverless-etl-local-raw/raw/transactions/
"""


DEPLOY_DESCRIPTION = (
    "The template of `etl package` is expanded with aws-sam-translator and goes through CloudFormation "
    "with the code, via an artefact bucket serverless-etl-<stage>-artefacts-<account>-<region>. With "
    "--endpoint-url the functions run from this checkout inside the emulation, so no dependencies are packaged."
)


def _fault(text: str) -> Fault:
    from etl_local.emulation.faults import Fault  # the emulation (and its moto check) loads only where it is used

    try:
        return Fault.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl", description="Serverless ETL pipeline: local runtime and tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run files through the real state machine and functions on a local AWS emulation",
        description="Create local buckets, table, queue and topic (moto, in-process), upload each file to "
        "raw/<dataset>/ and execute statemachines/etl.asl.json with the real Chalice functions. Outputs land "
        "under --out.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("paths", metavar="PATH", nargs="+", type=Path, help="a file, or a folder whose files are each run")
    run.add_argument("--dataset", metavar="NAME", help="dataset of the file(s); default: inferred from the file name")
    run.add_argument("--json", action="store_true", help="print a JSON object per run instead of a summary")
    run.add_argument("--out", metavar="DIR", type=Path, default=Path("etl-out"), help="where processed and quarantine files are copied (default: ./etl-out)")
    run.add_argument("--verbose", "-v", action="store_true", help="show the functions' INFO logs on stderr")
    run.add_argument("--chunk-mb", metavar="N", type=_chunk_mb, default=None,
                     help="megabytes of source per chunk, processed in parallel (default: the dataset's chunk_mb, "
                          "else the project's)")
    _add_fault_option(run)

    serve = commands.add_parser(
        "serve",
        help="serve the local AWS endpoint and the REST API on 127.0.0.1 until Ctrl-C",
        description="Start the local AWS emulation as an HTTP endpoint (S3, DynamoDB, SQS, SNS, Step Functions, ...) "
        "and the REST API on 127.0.0.1, sharing one state. Objects created under raw/<dataset>/ in the raw bucket "
        "start runs (S3 -> EventBridge -> state machine) as on AWS.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--port", type=int, default=8000, help="port of the REST API (default 8000)")
    serve.add_argument("--aws-port", type=int, default=8001, help="port of the AWS endpoint (default 8001; 0: any free port)")
    serve.add_argument("--verbose", "-v", action="store_true", help="show the functions' INFO logs on stderr")
    _add_fault_option(serve)

    package = commands.add_parser(
        "package",
        help="write the CloudFormation (SAM) template of the whole stack: functions, API and every resource they need",
        description="Run `chalice package --merge-template` with the template built by infra/template.py: KMS key, "
        "buckets, run table, dead-letter queue, topic, state machine, rules, alarms, Glue tables and Athena "
        "workgroup, one least-privilege role per function. Deploy OUT/sam.json with `aws cloudformation package` "
        "and `aws cloudformation deploy` (see the README).",
    )
    package.add_argument("out", metavar="OUT", type=Path, help="folder for sam.json, deployment.zip and merge-template.json")
    package.add_argument("--stage", choices=("dev", "prod"), default="dev", help="Chalice stage and resource names (default dev)")
    package.add_argument("--region", help="region for Chalice's packaging (default: your AWS configuration, else us-east-1)")
    package.add_argument("--resources-only", action="store_true",
                         help="write OUT/resources.json instead: every resource but Chalice's functions and API, "
                         "a stack of its own for the `chalice deploy` path (see the README)")

    chalice_config = commands.add_parser(
        "chalice-config", help="point a Chalice stage at a deployed resources stack (for `chalice deploy`)",
        description="Write into .chalice/config.json, for the stage, each function's environment and role from the "
        "outputs of the resources stack (`etl package --resources-only`), with manage_iam_role off.")
    chalice_config.add_argument("--stage", choices=("dev", "prod"), default="dev", help="default dev")
    chalice_config.add_argument("--stack", help="read this stack's outputs (default: what the resources stack published in SSM, "
                                "/serverless-etl/<stage>/..., else the outputs of serverless-etl-<stage>-resources)")
    chalice_config.add_argument("--region", help="default: your AWS configuration, else us-east-1")
    chalice_config.add_argument("--endpoint-url", metavar="URL", help="an AWS endpoint other than AWS (default: $AWS_ENDPOINT_URL)")
    chalice_config.add_argument("--project-dir", metavar="DIR", type=Path, default=Path("."),
                                help="the Chalice project whose .chalice/config.json is written (default: the current folder, as for chalice)")

    for name, summary in (("deploy", "package and deploy (or update) the stack serverless-etl-<stage>, then print its outputs"),
                          ("destroy", "delete the stack serverless-etl-<stage>, saying what it kept")):
        command = commands.add_parser(name, help=summary, description=summary + ". " + DEPLOY_DESCRIPTION)
        command.add_argument("--stage", choices=("dev", "prod"), default="dev", help="default dev")
        command.add_argument("--region", help="default: your AWS configuration, else us-east-1")
        command.add_argument("--endpoint-url", metavar="URL",
                             help="an AWS endpoint other than AWS, e.g. `etl serve`'s (http://127.0.0.1:8001; default: $AWS_ENDPOINT_URL)")
        command.add_argument("--resources-only", action="store_true",
                             help="the stack serverless-etl-<stage>-resources of the `chalice deploy` path instead: every resource "
                             "but Chalice's functions and API (see the README)")
    commands.choices["deploy"].add_argument("--alert-email", default="", help="subscribe this address to the alerts topic")
    commands.choices["deploy"].add_argument(
        "--parameter", metavar="KEY=VALUE", action="append", default=[], type=_parameter,
        help="set a template parameter, e.g. AuditTrail=on, MonthlyBudget=200, VpcId=vpc-..., SubnetIds=subnet-a,subnet-b, "
        "ReplicaRegion=eu-central-1 (README: what each costs); repeatable; on an update the others keep their values")
    commands.choices["destroy"].add_argument(
        "--delete-data", action="store_true",
        help="also empty and delete the buckets, delete the run table and schedule the key's deletion (kept otherwise), "
        "also after an earlier destroy without it")

    api_location = argparse.ArgumentParser(add_help=False)  # where the API is: every command that calls it
    api_location.add_argument("--api", metavar="URL", default=os.environ.get("ETL_API_URL"),
                              help=f"the REST API (default: $ETL_API_URL; else, with --stage, the URL the stack published in SSM; "
                              f"else {DEFAULT_API}, the local server); requests to a deployed API are signed with your AWS credentials")
    api_location.add_argument("--stage", choices=("dev", "prod"),
                              help="the deployed stage whose API URL /serverless-etl/<stage>/EndpointURL names (SSM)")
    api_location.add_argument("--region", help="the region of --stage (default: your AWS configuration, else us-east-1)")
    api_parent = argparse.ArgumentParser(add_help=False, parents=[api_location])
    api_parent.add_argument("--json", action="store_true", help="print the API's JSON answer")
    runs = commands.add_parser("runs", parents=[api_parent], help="list runs, newest first")
    runs.add_argument("--status", choices=RUN_STATUSES)
    runs.add_argument("--dataset", metavar="NAME")
    runs.add_argument("--since", metavar="TIME", help="RFC 3339 time or date")
    runs.add_argument("--limit", type=int, default=20, help="at most this many runs (default 20)")
    show = commands.add_parser("show", parents=[api_parent], help="show one run")
    show.add_argument("run_id", metavar="RUN_ID")
    history = commands.add_parser("history", parents=[api_parent], help="the states a run went through, with attempts and errors")
    history.add_argument("run_id", metavar="RUN_ID")
    redrive = commands.add_parser("redrive", parents=[api_parent], help="redrive a FAILED run from the state that failed")
    redrive.add_argument("run_id", metavar="RUN_ID")
    dlq = commands.add_parser("dlq", parents=[api_parent], help="peek at the dead-letter queue, or replay messages")
    dlq.add_argument("--limit", type=int, default=10, help="at most this many messages (default 10)")
    dlq.add_argument("--replay", metavar="MESSAGE_ID", nargs="+",
                     help="start a fresh run for each message's source object and delete the message; 'all' for every message")

    dashboard = commands.add_parser(
        "dashboard", parents=[api_location],
        help="serve the dashboard of a deployed API on 127.0.0.1, its calls signed with your AWS credentials",
        description="Serve the API's dashboard page on 127.0.0.1 and forward every request the page makes to the API, "
        "signed (SigV4) with your AWS credentials as the other commands sign theirs, until Ctrl-C. Locally, "
        "`etl serve` serves the dashboard itself at http://127.0.0.1:8000/.")
    dashboard.add_argument("--port", type=int, default=8002, help="port on 127.0.0.1 (default 8002; 0: any free port)")
    return parser


def _parameter(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    return key, value


def _add_fault_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fail", metavar="STEP[:ERROR[:TIMES]]", type=_fault, action="append", default=[],
                        help="make STEP (ingest, validate, transform, verdict, output) raise ERROR (default TransientError; "
                        "Lambda.<Code>, e.g. Lambda.TooManyRequestsException: Lambda refuses the invocation) "
                        "on its first TIMES invocations (default 1); repeatable")
    parser.add_argument("--fault-rate", metavar="P", type=_fault_rate, default=0.0,
                        help="make a share P (0 to 1) of the AWS requests of the functions and of the state machine's "
                        "service integrations fail transiently: throttled, server errors, dropped connections, answers lost "
                        "after the work was done (a fault storm; default 0)")
    parser.add_argument("--fault-seed", metavar="N", type=int, default=0, help="seed of the fault storm's choices (default 0)")


def _chunk_mb(text: str) -> float:
    try:
        megabytes = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from error
    problem = chunk_mb_problem(megabytes)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return megabytes


def _fault_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from error
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return rate


DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")


def _is_data_file(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return path.is_file() and not name.startswith(".") and name.endswith(DATA_SUFFIXES)


def _expand(paths: list[Path]) -> list[Path]:
    """Files named on the command line, and the data files (csv, json, jsonl, ndjson, .gz) of folders."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if _is_data_file(p)))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not files:
        raise FileNotFoundError(f"no files in {', '.join(map(str, paths))}")
    return files


def _summary(report: dict) -> str:
    lines = [
        views.headline(report["status"], report["run_id"], report["dataset"], report["source"]["bucket"], report["source"]["key"]),
        f"  records: {report['records_in']} in, {report['records_valid']} valid, {report['records_invalid']} quarantined, "
        f"{report['records_written']} written",
        *views.outcome_lines(report["reason"], report["failed_state"], report["error"]),
        *views.quality_lines(report["quality"]),
    ]
    lines.append(f"  states: {views.state_path(report['states'])}")
    lines += views.output_lines(report["outputs"], report["quarantine"], report["dlq_messages"])
    if report["faults_injected"]:
        lines.append("  faults injected: " + ", ".join(f"{service} {n}" for service, n in sorted(report["faults_injected"].items())))
    return "\n".join(lines)


def run_command(args: argparse.Namespace) -> int:
    from etl_local.emulation.storm import FaultStorm
    from etl_local.emulation.world import LocalAws  # moto loads only when a run is asked for
    from etl_local.runner import UsageError, run_file

    try:
        files = _expand(args.paths)
    except FileNotFoundError as error:
        print(f"etl run: {error}", file=sys.stderr)
        return EXIT_USAGE
    registry = DatasetRegistry(DEFAULT_SCHEMAS_DIR)
    worst = EXIT_SUCCEEDED
    storm = FaultStorm(args.fault_rate, args.fault_seed)
    # the progress line is for people at a terminal: not with --json, not into a pipe or a file
    progress = sys.stderr if not args.json and sys.stdout.isatty() and sys.stderr.isatty() else None
    with LocalAws(faults=args.fail, storm=storm, function_log_level=logging.INFO if args.verbose else logging.WARNING) as world:
        for path in files:
            try:
                report = run_file(world, path, args.dataset, args.out, registry, chunk_mb=args.chunk_mb,
                                  progress=progress).to_dict()
            except UsageError as error:
                print(f"etl run: {error}", file=sys.stderr)
                return EXIT_USAGE
            print(json.dumps(report, default=str) if args.json else _summary(report), flush=True)
            worst = max(worst, EXIT_CODES[report["status"]])
    return worst


def serve_command(args: argparse.Namespace) -> int:
    from etl_local.serve import serve  # moto loads only when asked for

    try:
        serve(args.port, args.aws_port, args.fail, logging.INFO if args.verbose else logging.WARNING,
              fault_rate=args.fault_rate, fault_seed=args.fault_seed)
    except OSError as error:
        print(f"etl serve: cannot listen on 127.0.0.1 ({error}); pick other ports with --port / --aws-port", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("etl serve: stopped", file=sys.stderr)
    return EXIT_SUCCEEDED


def _region(args: argparse.Namespace) -> str:
    """``--region``, else the AWS configuration's, else us-east-1."""
    import boto3

    return args.region or boto3.session.Session().region_name or "us-east-1"


def package_command(args: argparse.Namespace) -> int:
    from infra.package import package

    if args.resources_only:
        from infra.template import resources_template

        args.out.mkdir(parents=True, exist_ok=True)
        template = args.out / "resources.json"
        template.write_text(json.dumps(resources_template(args.stage), indent=1) + "\n")
    else:
        template = package(args.stage, args.out, region=_region(args))
    print(f"{template}  (stage {args.stage}; deploy it as the README's 'Deploy to AWS' says)")
    return EXIT_SUCCEEDED


def chalice_config_command(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    from infra.chalice_config import MissingOutputs, write_stage
    from infra.deploy import published, stack_name

    stack = args.stack or stack_name(args.stage, resources_only=True)
    config = args.project_dir / ".chalice" / "config.json"
    if not config.is_file():
        print(f"etl chalice-config: {config}: no Chalice project here; run it in the project folder or pass --project-dir",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        values = published(args.stage, stack if args.stack else None, region=_region(args), endpoint_url=args.endpoint_url)
        write_stage(config, args.stage, values)
    except ClientError as error:
        print(f"etl chalice-config: {stack}: {error}", file=sys.stderr)
        return EXIT_ERROR
    except MissingOutputs as error:
        print(f"etl chalice-config: {stack}: {error}", file=sys.stderr)
        return EXIT_ERROR
    from infra.package import build_lambda_package

    package = build_lambda_package(args.project_dir, args.stage)
    print(f"stage {args.stage} of {config} now uses {stack}; {package} holds the functions' dependencies "
          f"(without the AWS SDK of the Lambda runtime), which chalice deploy reuses; next: chalice deploy --stage {args.stage}")
    return EXIT_SUCCEEDED


def deploy_command(args: argparse.Namespace) -> int:
    from infra.deploy import DeployError, deploy, destroy

    region = _region(args)
    try:
        if args.command == "deploy":
            outputs = deploy(args.stage, region=region, endpoint_url=args.endpoint_url, resources_only=args.resources_only,
                             with_dependencies=args.endpoint_url is None, alert_email=args.alert_email, parameters=dict(args.parameter))
            print("\n".join(f"{key:<26} {value}" for key, value in sorted(outputs.items())))
        else:
            teardown = destroy(args.stage, region=region, endpoint_url=args.endpoint_url, delete_data=args.delete_data,
                               resources_only=args.resources_only)
            print("\n".join([*(f"removed {what}" for what in teardown.removed),
                             *(f"kept {what} (etl destroy --delete-data removes it)" for what in teardown.kept)])
                  or f"nothing of stage {args.stage} left to remove")
    except DeployError as error:
        print(f"etl {args.command}: {error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_SUCCEEDED


def _api_url(args: argparse.Namespace) -> str:
    """``--api``, else ``$ETL_API_URL``, else the URL the stage's stack published in SSM, else the local server."""
    if args.api or not args.stage:
        return args.api or DEFAULT_API
    import boto3

    from infra.discovery import read

    url = read(args.stage, boto3.client("ssm", region_name=_region(args))).get("EndpointURL")
    if not url:
        raise ApiError(None, "not_deployed", f"no /serverless-etl/{args.stage}/EndpointURL in SSM: is stage {args.stage} deployed here?")
    return url


def api_command(args: argparse.Namespace) -> int:
    try:
        client = ApiClient(_api_url(args))
    except ApiError as error:
        print(f"etl {args.command}: {error}", file=sys.stderr)
        return EXIT_ERROR
    try:
        if args.command == "runs":
            answer = client.runs(status=args.status, dataset=args.dataset, since=args.since, limit=args.limit)
        elif args.command == "show":
            answer = client.show(args.run_id)
        elif args.command == "history":
            answer = client.history(args.run_id)
        elif args.command == "redrive":
            answer = client.redrive(args.run_id)
        elif args.replay:
            answer = client.replay(None if args.replay == ["all"] else args.replay)
        else:
            answer = client.dead_letters(args.limit)
    except ApiError as error:
        print(f"etl {args.command}: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(answer, indent=1) if args.json else views.render(args.command, answer, replay=bool(getattr(args, "replay", None))))
    return EXIT_SUCCEEDED


def dashboard_command(args: argparse.Namespace) -> int:
    from etl_local.dashboard import DashboardServer

    try:
        api = _api_url(args)
        server = DashboardServer(ApiClient(api), "127.0.0.1", args.port)
    except ApiError as error:
        print(f"etl dashboard: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:
        print(f"etl dashboard: cannot listen on 127.0.0.1 ({error}); pick another port with --port", file=sys.stderr)
        return EXIT_ERROR
    with server:
        print(f"Dashboard  http://127.0.0.1:{server.server_address[1]}/  (calls {api}). Ctrl-C stops it.", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("etl dashboard: stopped", file=sys.stderr)
    return EXIT_SUCCEEDED


COMMANDS = {"run": run_command, "serve": serve_command, "package": package_command,
            "deploy": deploy_command, "destroy": deploy_command, "chalice-config": chalice_config_command,
            "dashboard": dashboard_command,
            **dict.fromkeys(("runs", "show", "history", "redrive", "dlq"), api_command)}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
