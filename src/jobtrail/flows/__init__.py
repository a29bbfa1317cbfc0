"""Static flow graphs of job functions: what paths the code *can* take, read from its source.

```python
from jobtrail.expect import parse
from jobtrail.flows import build_flow, code_paths, compare, to_mermaid

graph = build_flow(bill, job_name="bill")        # the function or its declared job
print(to_mermaid(graph))                         # also to_dot, to_text
for path in code_paths(graph):                   # load decide:is_paid=true exit:already_paid ...
    print(path.text, path.ends)
compare(graph, parse("load decide:is_paid=false effect:charge"))
```

`build_flow` walks the function's syntax tree (stdlib `ast`; the job never runs) and
keeps only the points a run can record: steps, effects, decisions, exits, events, child
jobs, plus ``return``, ``raise``, calls it could not follow (``unknown``), ``start`` and
``end``. Edges follow Python's control flow; an edge leaving a decision that the code
branches on carries the values that take it (``is_paid=true``). Node ids are keyed by
names (``step:load``, ``return#2``), so stored graphs diff meaningfully.

`jobtrail.flows.language` reads the graph as an automaton over the path language of
`jobtrail.expect`: `code_paths` lists its token sequences, `accepts` checks an observed
run, `compare` finds, by example, where code and expectation disagree.

Modules: `graph` (the data); `builder` with `expressions`, `matching`, `frames`,
`resolve` and `raw` (the walk); `render` (Mermaid, DOT, text); `language` with `moves`
and `comparison` (the automaton view); `lock` (the file CI checks); `coverage` (code
against ``expect=`` against recorded runs) and `usage` (the same, edge by edge: the runs
that took each edge, where runs left the code); `lint`, the flow lint (a package, one module
per rule). What the graph shows and its limits: docs/flows.md.

The flows read code and never run it: what they need of a job and of an app is in
`declared` (two protocols a `JobDef` and an `App` satisfy), and recorded runs come in
as data, so the package imports no module that runs jobs.
"""

from jobtrail.flows.builder import build_flow
from jobtrail.flows.declared import DeclaredJob, JobRegistry
from jobtrail.flows.graph import FlowEdge, FlowGraph, FlowNode, Guard
from jobtrail.flows.language import (
    Acceptance,
    CodePath,
    CodePathList,
    Comparison,
    accepts,
    code_paths,
    compare,
)
from jobtrail.flows.render import to_dot, to_mermaid, to_text

__all__ = [
    "Acceptance",
    "CodePath",
    "CodePathList",
    "Comparison",
    "DeclaredJob",
    "FlowEdge",
    "FlowGraph",
    "FlowNode",
    "Guard",
    "JobRegistry",
    "accepts",
    "build_flow",
    "code_paths",
    "compare",
    "to_dot",
    "to_mermaid",
    "to_text",
]
