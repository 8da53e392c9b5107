"""Lambda functions of the ETL pipeline and its REST API: wiring only, the logic is in chalicelib/.

Step Functions invokes ingest, then validate and transform for each chunk of
the source (a Distributed Map), then verdict and output, with the run's state
(references and counts, never records); an EventBridge rule on failed,
timed-out and aborted executions invokes on_execution_failed (the rule is the
deployment's, infra/delivery.py, so that it carries a retry policy, a dead-letter
queue and an on-failure destination, which Chalice's own rules cannot).  The REST API
(blueprints in chalicelib/api/) starts, lists, inspects and redrives runs and
replays dead letters; its root, GET /, is the operator dashboard that does the same.
"""
from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib.api.catalog import catalog_api
from chalicelib.api.dashboard import dashboard_api
from chalicelib.api.deadletters import dlq_api
from chalicelib.api.responses import refuse_web_pages
from chalicelib.api.runs import runs_api
from chalicelib.failures import record_failure
from chalicelib.ingest import ingest as ingest_stage
from chalicelib.observability import instrumented, log_stage_result, logger
from chalicelib.output import output as output_stage
from chalicelib.payloads import (
    ChunkTask,
    ChunkTransformed,
    ChunkValidated,
    IngestEvent,
    IngestState,
    OutputState,
    TransformedState,
    parse_payload,
)
from chalicelib.services import default_services
from chalicelib.steps import FAILURE_HANDLER, INGEST, OUTPUT, TRANSFORM, VALIDATE, VERDICT
from chalicelib.transform import transform as transform_stage
from chalicelib.validate import validate as validate_stage
from chalicelib.validate import verdict as verdict_stage

app = Chalice(app_name="serverless-etl")
app.register_blueprint(runs_api)
app.register_blueprint(dlq_api)
app.register_blueprint(catalog_api)
app.register_blueprint(dashboard_api)
app.register_middleware(refuse_web_pages, "http")


@app.lambda_function(name=INGEST.function)
@instrumented()
def ingest(event: dict[str, Any], context: Any) -> IngestState:
    request = parse_payload(event, IngestEvent)
    state = ingest_stage(
        request["input"], execution_id=request["execution_id"], started_at=request["started_at"], services=default_services()
    )
    return log_stage_result(INGEST.function, state)


@app.lambda_function(name=VALIDATE.function)
@instrumented()
def validate(event: dict[str, Any], context: Any) -> ChunkValidated:
    return log_stage_result(VALIDATE.function, validate_stage(parse_payload(event, ChunkTask), default_services()))


@app.lambda_function(name=TRANSFORM.function)
@instrumented()
def transform(event: dict[str, Any], context: Any) -> ChunkTransformed:
    return log_stage_result(TRANSFORM.function, transform_stage(parse_payload(event, ChunkValidated), default_services()))


@app.lambda_function(name=VERDICT.function)
@instrumented(emits_metrics=True)
def verdict(event: dict[str, Any], context: Any) -> TransformedState:
    return log_stage_result(VERDICT.function, verdict_stage(parse_payload(event, IngestState), default_services()))


@app.lambda_function(name=OUTPUT.function)
@instrumented(emits_metrics=True)
def output(event: dict[str, Any], context: Any) -> OutputState:
    return log_stage_result(OUTPUT.function, output_stage(parse_payload(event, TransformedState), default_services()))


@app.lambda_function(name=FAILURE_HANDLER)
@instrumented()
def on_execution_failed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = record_failure(event, default_services())
    if result["action"] != "ignored":
        logger.warning("run failed", extra=result)
    else:
        logger.info("execution failure ignored", extra=result)
    return result
