"""The core benchmark behind ``benchmarks/core.py``: enqueue, drain, pick-up latency, claim cost.

One module per part of a run:

- ``settings``: the sizes and constants of a run (`Settings`);
- ``terminal``: the console every part prints to;
- ``backends``: the databases measured (`SQLiteBackend`, `PostgresBackend`);
- ``workers``: worker processes started as an application starts them (`Workers`);
- ``queue``: a fresh app, a filled queue, the jobs read back, waiting for them;
- ``stats``: percentiles;
- ``enqueue``, ``drain``, ``pickup``, ``claim``: the measurements;
- ``suite``: the measurements chosen on the command line, or the concurrency sweep;
- ``machine``: the machine the run is on;
- ``table``: the table of figures and targets printed at the end;
- ``results``: the run's description and the JSON file;
- ``command``: the command line and the run from start to end.
"""
