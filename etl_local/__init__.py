"""The pipeline on one machine, and the ``etl`` command.

No AWS account, Docker or Java: the AWS emulation (:mod:`etl_local.emulation`, moto with the
pipeline's patches) runs ``statemachines/etl.asl.json`` with every Lambda invocation bridged
to the Chalice function in this process.  Beside it: ``etl run`` (:mod:`etl_local.runner`),
``etl serve`` (:mod:`etl_local.serve`), and the client of a deployed or local API
(:mod:`etl_local.client`) that the ``etl`` command (:mod:`etl_local.cli`) drives.
"""
