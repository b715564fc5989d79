"""Scale-out: grade a batch's sandbox stages on Celery workers through a Redis broker.

The split (docs/scaling.md): the coordinator (``takehome grade --broker URL``) keeps intake, the
results store, calibration, the graders (held-out scoring included), the rubric, similarity and
the reports; a worker (``takehome worker --broker URL``) runs only the sandbox stages
(:func:`harness.stages.run_stages`) on its own Docker engine and returns the artifacts. So a
result graded through workers equals the local one by construction.

Modules:

``config``       broker URL, the Celery app, key names, the job budget and visibility timeout
``payloads``     pydantic messages, content-addressed compressed payloads, hostile-input checks
``bundle``       the assignment bundle a worker receives (no hidden labels) and its cache
``task``         the worker-side task: fetch, verify, run the stages, send the artifacts back
``coordinator``  :class:`RemoteStageRunner` (a ``StageRunner``): send, wait, check what returns
``remote_grade`` ``takehome grade --broker``: the local batch with that runner
``runtime``      ``takehome worker``: engine and image checks, the Celery worker, shutdown
"""
