"""The expectation language: the paths a job is expected to take, and how a run diverges.

```python
from jobtrail.expect import Symbol, parse

expectation = parse("load (is_paid=true exit:already_paid | is_paid=false effect:charge)")
run = [Symbol("step", "load"), Symbol.decision("is_paid", False), Symbol("effect", "charge")]
expectation.accepts(run)                   # True
expectation.check(run[:2], completed=True)  # [Divergence(kind="missing", ...)]
```

Modules: `nodes` (symbols, patterns, the tree, the error), `grammar` (text ↔ tree),
`automaton` (the compiled, cached form), `conformance` (divergences), `expectation`
(`Expectation` and `parse`). The package imports nothing else from jobtrail but its errors
and records (`Divergence`, the kinds of points and divergences).
The language itself is described in docs/expectations.md.
"""

from jobtrail.errors import ExpectationError
from jobtrail.expect.expectation import Expectation, parse
from jobtrail.expect.nodes import Symbol, decision_text, format_value
from jobtrail.records import Divergence

__all__ = [
    "Divergence",
    "Expectation",
    "ExpectationError",
    "Symbol",
    "decision_text",
    "format_value",
    "parse",
]
