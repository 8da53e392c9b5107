"""``etl serve``: the local AWS endpoint and the REST API on 127.0.0.1, sharing one state."""
from __future__ import annotations

import signal
import threading
import warnings
from collections.abc import Callable
from types import FrameType

from chalice.config import Config

import app as chalice_app
from etl_local.api_server import local_api_server
from etl_local.emulation.faults import Fault
from etl_local.emulation.storm import FaultStorm
from etl_local.emulation.world import LocalAws

HOST = "127.0.0.1"  # never reachable from other machines: the local API has no authorization


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def serve(api_port: int, aws_port: int, faults: list[Fault], function_log_level: int,
          announce: Callable[[str], None] = print, fault_rate: float = 0.0, fault_seed: int = 0) -> None:
    """Run until interrupted (Ctrl-C or SIGTERM); then stop both servers and the emulation.

    ``fault_rate`` and ``fault_seed`` raise a fault storm (:mod:`etl_local.emulation.storm`);
    what it injected is announced when the servers stop.
    """
    storm = FaultStorm(fault_rate, fault_seed)
    warnings.filterwarnings("ignore", message="IAMAuthorizer is not a supported in local mode")
    _stop_on_sigterm()
    with LocalAws(faults=faults, s3_trigger=True, endpoint_port=aws_port, function_log_level=function_log_level,
                  storm=storm) as world:
        config = Config.create(chalice_stage="local", lambda_timeout=300, lambda_memory_size=256)
        api = local_api_server(chalice_app.app, config, HOST, api_port)
        thread = threading.Thread(target=api.server.serve_forever, name="etl-api", daemon=True)
        thread.start()
        announce(
            f"AWS endpoint  {world.endpoint_url}  (raw bucket s3://{world.names.raw_bucket}; "
            f"any access key works, region {world.client('s3').meta.region_name})\n"
            f"REST API      http://{HOST}:{api_port}  (try: curl http://{HOST}:{api_port}/runs)\n"
            f"Dashboard     http://{HOST}:{api_port}/\n"
            "Uploads under raw/<dataset>/ start runs. Ctrl-C stops everything."
        )
        try:
            threading.Event().wait()
        finally:
            api.shutdown()
            thread.join(timeout=5)
            if storm.rate > 0:
                announce(f"fault storm: {sum(storm.counts().values())} faults injected {storm.counts()}")
