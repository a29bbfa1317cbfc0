"""The chaos run behind ``benchmarks/chaos.py``: jobtrail's promises held under crashes.

One module per part of a run:

- ``settings``: what a run does (`Settings`) and the timings it keeps;
- ``options``: the command line, read into `Settings`;
- ``jobspecs``: the arguments of each job, drawn from the seed;
- ``clock``: seconds since the run began;
- ``fleet``: the worker processes, started, killed, stopped and replaced;
- ``drive``: the chaos, until every job is final;
- ``ledger``: the effects performed, as the outside world saw them;
- ``checks``: the promises checked against the store, the ledger and the workers;
- ``report``: what is printed at the end of a backend's run;
- ``evidence``: ``workers.json`` and ``findings.json``;
- ``backend_run``: one backend's run, from its database to its clean-up;
- ``command``: every backend in turn, the verdict, the JSON file and the exit status.
"""
