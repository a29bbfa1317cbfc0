"""Execution paths: what a finished run amounts to, how it departs from what was expected,
and how runs group into variants, funnels and cross-job rules.

Recording happens in `jobtrail.context`; storing in `jobtrail.store.segments`. This package
reads what was recorded: `runs` summarises one run as it ends, `timings` keeps the step
durations that make a step ``slow``, `alerts` sends divergences to sinks, `variants`
groups runs, `rules` checks promises that span jobs, and `redaction` keeps declared
sensitive values out of everything stored about a path.
"""
