"""The pipeline on one machine: moto's AWS emulation, the real state machine, the real functions.

No AWS account, Docker or Java: moto's Step Functions interpreter runs
``statemachines/etl.asl.json`` and every Lambda invocation is bridged to the
Chalice function in this process.  See ``../shared/notes/local-aws.md`` for
the moto behaviour this relies on; moto is pinned because the bridges patch
its internals.
"""
