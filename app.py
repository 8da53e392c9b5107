"""Lambda functions of the ETL pipeline and its REST API: wiring only, the logic is in chalicelib/.

Step Functions invokes ingest, validate, transform and output with the run's
state (references and counts, never records); an EventBridge rule on failed,
timed-out and aborted executions invokes on_execution_failed.  The REST API
(blueprints in chalicelib/api/) starts, lists, inspects and redrives runs and
replays dead letters.
"""
from __future__ import annotations

from typing import Any

from chalice import Chalice
from chalice.app import CloudWatchEvent

from chalicelib.api.catalog import catalog_api
from chalicelib.api.deadletters import dlq_api
from chalicelib.api.responses import refuse_web_pages
from chalicelib.api.runs import runs_api
from chalicelib.failures import FAILED_EXECUTIONS_PATTERN, record_failure
from chalicelib.ingest import ingest as ingest_stage
from chalicelib.observability import log_stage_result, logger
from chalicelib.output import output as output_stage
from chalicelib.services import default_services
from chalicelib.transform import transform as transform_stage
from chalicelib.validate import validate as validate_stage

app = Chalice(app_name="serverless-etl")
app.register_blueprint(runs_api)
app.register_blueprint(dlq_api)
app.register_blueprint(catalog_api)
app.register_middleware(refuse_web_pages, "http")


@app.lambda_function(name="ingest")
@logger.inject_lambda_context(clear_state=True)
def ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = ingest_stage(
        event["input"], execution_id=event["execution_id"], started_at=event["started_at"], services=default_services()
    )
    return log_stage_result("ingest", state)


@app.lambda_function(name="validate")
@logger.inject_lambda_context(clear_state=True)
def validate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return log_stage_result("validate", validate_stage(event, default_services()))


@app.lambda_function(name="transform")
@logger.inject_lambda_context(clear_state=True)
def transform(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return log_stage_result("transform", transform_stage(event, default_services()))


@app.lambda_function(name="output")
@logger.inject_lambda_context(clear_state=True)
def output(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return log_stage_result("output", output_stage(event, default_services()))


@app.on_cw_event(FAILED_EXECUTIONS_PATTERN, name="on_execution_failed")
def on_execution_failed(event: CloudWatchEvent) -> dict[str, Any]:
    return _handle_execution_failure(event.to_dict(), event.context)


# Chalice hands event handlers one object; Powertools wants (event, context).
@logger.inject_lambda_context(clear_state=True)
def _handle_execution_failure(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = record_failure(event, default_services())
    if result["action"] != "ignored":
        logger.warning("run failed", extra=result)
    else:
        logger.info("execution failure ignored", extra=result)
    return result
