"""Building flow graphs: the nodes and edges each construct of the corpus gives, and stable ids."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from jobtrail.flows import FlowGraph, FlowNode, Guard, build_flow
from tests.flows import corpus


def edges(graph: FlowGraph) -> list[str]:
    """The graph's edges as ``"src -> dst [label]"`` lines, in graph order."""
    return [f"{e.src} -> {e.dst}" + (f" [{e.label}]" if e.label else "") for e in graph.edges]


def build(name: str, **options: object) -> FlowGraph:
    """The flow graph of the corpus function `name`."""
    return build_flow(getattr(corpus, name), job_name=name, **options)  # type: ignore[arg-type]


def line_of(function_name: str, text: str) -> int:
    """The file line of the first line of corpus function `function_name` containing `text`."""
    lines, first = inspect.getsourcelines(getattr(corpus, function_name))
    return first + next(i for i, line in enumerate(lines) if text in line)


EXPECTED: dict[str, list[str]] = {
    "straight_line": [
        "start -> step:load",
        "step:load -> effect:charge",
        "effect:charge -> event:charged",
        "event:charged -> enqueue:receipts.send",
        "enqueue:receipts.send -> step:mark_paid",
        "step:mark_paid -> end",
    ],
    "if_elif_else": [
        "start -> decide:is_vip",
        "decide:is_vip -> step:vip_offer [is_vip=true]",
        "decide:is_vip -> decide:is_new [is_vip=false]",
        "step:vip_offer -> step:notify",
        "decide:is_new -> step:welcome [is_new=true]",
        "decide:is_new -> step:standard [is_new=false]",
        "step:welcome -> step:notify",
        "step:standard -> step:notify",
        "step:notify -> end",
    ],
    "not_decide": [
        "start -> decide:has_items",
        "decide:has_items -> return#1 [has_items=false]",
        "decide:has_items -> step:process [has_items=true]",
        "return#1 -> end",
        "step:process -> end",
    ],
    "compared": [
        "start -> decide:tier",
        "decide:tier -> step:upgrade [tier=gold]",
        "decide:tier -> decide:region [tier!=gold]",
        "step:upgrade -> decide:region",
        "decide:region -> step:gdpr_notice [region=eu,uk]",
        "decide:region -> decide:coupon [region!=eu,uk]",
        "step:gdpr_notice -> decide:coupon",
        "decide:coupon -> step:apply_coupon [coupon!=null]",
        "decide:coupon -> end [coupon=null]",
        "step:apply_coupon -> end",
    ],
    "matched": [
        "start -> decide:tier",
        "decide:tier -> step:gold_perks [tier=gold]",
        "decide:tier -> step:metal_perks [tier=silver,bronze]",
        "decide:tier -> step:no_perks [tier!=gold,silver,bronze]",
        "step:gold_perks -> step:done",
        "step:metal_perks -> step:done",
        "step:no_perks -> step:done",
        "step:done -> end",
    ],
    "matched_enum": [
        "start -> decide:tier",
        "decide:tier -> step:gold [tier=gold]",
        "decide:tier -> step:silver [tier=silver]",
        "step:gold -> decide:paid",
        "step:silver -> decide:paid",
        "decide:paid -> step:thank [paid=true]",
        "decide:paid -> end [paid!=true]",
        "step:thank -> end",
    ],
    "for_loop": [
        "start -> step:fetch",
        "step:fetch -> decide:skip",
        "step:fetch -> event:all_packed",
        "decide:skip -> decide:skip [skip=true, loop]",
        "decide:skip -> step:pack [skip=false]",
        "decide:skip -> event:all_packed [skip=true]",
        "step:pack -> decide:full",
        "decide:full -> decide:skip [full=false, loop]",
        "decide:full -> event:all_packed [full=false]",
        "decide:full -> step:close [full=true, break]",
        "event:all_packed -> step:close",
        "step:close -> end",
    ],
    "while_loops": [
        "start -> decide:more",
        "decide:more -> step:fetch_page [more=true]",
        "decide:more -> step:poll [more=false]",
        "step:fetch_page -> decide:more [loop]",
        "step:poll -> decide:done",
        "decide:done -> step:poll [done=false, loop]",
        "decide:done -> step:finish [done=true, break]",
        "step:finish -> end",
    ],
    "try_blocks": [
        "start -> effect:charge",
        "start -> step:mark_declined [except Declined]",
        "start -> event:charge_failed [except Exception]",
        "effect:charge -> step:mark_declined [except Declined]",
        "effect:charge -> event:charge_failed [except Exception]",
        "effect:charge -> effect:send_receipt",
        "step:mark_declined -> step:release",
        "event:charge_failed -> raise#1",
        "raise#1 -> step:release#2",
        "effect:send_receipt -> step:release",
        "step:release -> step:done",
        "step:release#2 -> end [raise]",
        "step:done -> end",
    ],
    "raising": [
        "start -> decide:too_large",
        "start -> step:reject [except Declined]",
        "decide:too_large -> raise#1 [too_large=true]",
        "decide:too_large -> step:approve [too_large=false]",
        "decide:too_large -> step:reject [except Declined]",
        "raise#1 -> step:reject [except Declined]",
        "step:approve -> step:reject [except Declined]",
        "step:approve -> decide:suspicious",
        "step:reject -> decide:suspicious",
        "decide:suspicious -> raise#2 [suspicious=true]",
        "decide:suspicious -> end [suspicious=false]",
        "raise#2 -> end",
    ],
    "exit_in_try": [
        "start -> exit:early",
        "start -> step:not_for_exits [except Exception]",
        "exit:early -> step:catches_exits [except BaseException]",
        "step:not_for_exits -> end",
        "step:catches_exits -> end",
    ],
    "finally_ways": [
        "start -> decide:stop",
        "start -> step:after_loop",
        "decide:stop -> decide:done [stop=false]",
        "decide:stop -> step:cleanup#2 [stop=true, break]",
        "decide:done -> return#1 [done=true]",
        "decide:done -> step:handle [done=false]",
        "return#1 -> step:cleanup#3",
        "step:handle -> step:cleanup",
        "step:cleanup -> decide:stop [loop]",
        "step:cleanup -> step:after_loop",
        "step:cleanup#2 -> step:after_loop",
        "step:cleanup#3 -> end [return]",
        "step:after_loop -> end",
    ],
    "nested_try": [
        "start -> step:attempt",
        "start -> step:key_error [except KeyError]",
        "start -> step:inner_cleanup#2",
        "start -> step:outer_handler [except Exception]",
        "step:attempt -> step:key_error [except KeyError]",
        "step:attempt -> step:inner_cleanup",
        "step:attempt -> step:inner_cleanup#2",
        "step:key_error -> step:inner_cleanup",
        "step:key_error -> step:inner_cleanup#2",
        "step:inner_cleanup -> step:outer_handler [except Exception]",
        "step:inner_cleanup -> end",
        "step:inner_cleanup#2 -> step:outer_handler [except Exception]",
        "step:outer_handler -> end",
    ],
    "helper_raises": [
        "start -> step:audit",
        "start -> step:handled [except ValueError]",
        "step:audit -> decide:needs_review",
        "step:audit -> step:handled [except ValueError]",
        "decide:needs_review -> step:review [needs_review=true]",
        "decide:needs_review -> event:audited [needs_review=false]",
        "decide:needs_review -> step:handled [except ValueError]",
        "step:review -> unknown:deeper",
        "step:review -> step:handled [except ValueError]",
        "unknown:deeper -> step:handled [except ValueError]",
        "unknown:deeper -> end",
        "event:audited -> step:handled [except ValueError]",
        "event:audited -> end",
        "step:handled -> end",
    ],
    "case_guard": [
        "start -> decide:tier",
        "decide:tier -> step:big_gold [tier=gold]",
        "decide:tier -> step:gold [tier=gold]",
        "decide:tier -> end [tier!=gold]",
        "step:big_gold -> end",
        "step:gold -> end",
    ],
    "with_block": [
        "start -> step:locked_work",
        "step:locked_work -> step:after",
        "step:after -> end",
    ],
    "early_exit": [
        "start -> step:load",
        "step:load -> decide:is_paid",
        "decide:is_paid -> exit:already_paid [is_paid=true]",
        "decide:is_paid -> effect:charge [is_paid=false]",
        "exit:already_paid -> end",
        "effect:charge -> return#1",
        "return#1 -> end",
    ],
    "bare_exit": [
        "start -> decide:empty",
        "decide:empty -> exit:nothing_to_do [empty=true]",
        "decide:empty -> step:process [empty=false]",
        "exit:nothing_to_do -> end",
        "step:process -> end",
    ],
    "uses_helpers": [
        "start -> step:audit",
        "step:audit -> decide:needs_review",
        "decide:needs_review -> step:review [needs_review=true]",
        "decide:needs_review -> event:audited [needs_review=false]",
        "step:review -> unknown:deeper",
        "unknown:deeper -> step:tick",
        "event:audited -> step:tick",
        "step:tick -> unknown:countdown",
        "step:tick -> step:done",
        "unknown:countdown -> step:done",
        "step:done -> end",
    ],
    "imported_helpers": [
        "start -> step:begin",
        "step:begin -> unknown:external.remote_audit",
        "unknown:external.remote_audit -> unknown:remote_audit",
        "unknown:remote_audit -> step:finish",
        "step:finish -> end",
    ],
    "async_job": [
        "start -> step:fetch",
        "step:fetch -> step:render",
        "step:render -> event:chunk",
        "step:render -> decide:notify",
        "event:chunk -> event:chunk [loop]",
        "event:chunk -> decide:notify",
        "decide:notify -> effect:email [notify=true]",
        "decide:notify -> end [notify=false]",
        "effect:email -> end",
    ],
    "dynamic_names": [
        "start -> unknown:ctx.step",
        "start -> step:summary",
        "unknown:ctx.step -> unknown:ctx.step [loop]",
        "unknown:ctx.step -> step:summary",
        "step:summary -> end",
    ],
    "expressions": [
        "start -> step:price",
        "start -> decide:rush",
        "step:price -> step:price [loop]",
        "step:price -> decide:rush",
        "decide:rush -> step:standard_label [rush=false]",
        "decide:rush -> decide:big [rush=true]",
        "step:standard_label -> decide:big",
        "decide:big -> step:bulk_discount [big=true]",
        "decide:big -> return#1 [big=false]",
        "step:bulk_discount -> return#1",
        "return#1 -> end",
    ],
    "not_followed": [
        "start -> step:visible",
        "step:visible -> step:later",
        "step:later -> return#1",
        "return#1 -> end",
    ],
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_corpus_function_has_the_expected_edges(name: str) -> None:
    """Each corpus function's graph has exactly the expected edges, in graph order."""
    assert edges(build(name)) == EXPECTED[name]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_nodes_are_exactly_those_the_edges_join_with_start_first_and_end_last(name: str) -> None:
    """Every node is on some edge (nothing unreachable is kept), start comes first, end last."""
    graph = build(name)
    ids = list(graph.nodes)
    assert ids[0] == graph.start == "start" and ids[-1] == graph.end == "end"
    on_edges = {e.src for e in graph.edges} | {e.dst for e in graph.edges}
    assert set(ids) == on_edges
    assert all(node.id == key for key, node in graph.nodes.items())


def test_node_kinds_names_and_labels() -> None:
    """Nodes carry their kind, the point's name and a short label per kind."""
    graph = build("fulfil_order")
    shown = {node.id: (node.kind, node.name, node.label) for node in graph.nodes.values()}
    assert shown["start"] == ("start", None, "start")
    assert shown["step:load_order"] == ("step", "load_order", "load_order")
    assert shown["effect:charge"] == ("effect", "charge", "effect:charge")
    assert shown["decide:shipping"] == ("decide", "shipping", "shipping?")
    assert shown["exit:payment_declined"] == ("exit", "payment_declined", "exit:payment_declined")
    assert shown["event:declined"] == ("event", "declined", "event:declined")
    assert shown["enqueue:receipts.send"] == ("enqueue", "receipts.send", "enqueue:receipts.send")
    assert shown["return#1"] == ("return", None, "return")
    assert shown["unknown:deeper"] == ("unknown", "deeper", "? deeper(...)")
    assert shown["end"] == ("end", None, "end")
    assert len(graph.nodes) == 31


def test_raise_nodes_name_the_exception() -> None:
    """A raise node is named after the class raised; a bare re-raise has no name."""
    raised = {n.id: (n.name, n.label) for n in build("raising").of_kind("raise")}
    assert raised == {"raise#1": ("Declined", "raise Declined"), "raise#2": ("ValueError", "raise ValueError")}
    assert build("try_blocks").nodes["raise#1"].name is None


def test_lines_are_file_lines_of_the_call_including_in_inlined_helpers() -> None:
    """A node's line is the line of its call in the file, the helper's own line when inlined."""
    graph = build("early_exit")
    assert graph.nodes["step:load"].line == line_of("early_exit", 'ctx.step("load"')
    assert graph.nodes["exit:already_paid"].line == line_of("early_exit", "ctx.exit(")
    assert graph.nodes["start"].line == line_of("early_exit", "def early_exit")
    helpers = build("uses_helpers")
    assert helpers.nodes["step:review"].line == line_of("review", 'c.step("review"')


def test_function_and_file_identify_the_source() -> None:
    """The graph names the job, the function's qualified name and its file."""
    graph = build("straight_line")
    assert (graph.job_name, graph.function) == ("straight_line", "tests.flows.corpus.straight_line")
    assert graph.file.endswith("tests/flows/corpus.py")


def test_decision_edges_carry_guards() -> None:
    """Edges out of a decision the code branches on carry the values that take them."""
    graph = build("compared")
    guards = {e.dst: e.guard for e in graph.out_edges("decide:region")}
    assert guards == {"step:gdpr_notice": Guard(("eu", "uk")), "decide:coupon": Guard(("eu", "uk"), negated=True)}
    plain = build("straight_line")
    assert all(edge.guard is None for edge in plain.edges)


def test_guard_allows_and_text() -> None:
    """A guard allows its values, or all but them when negated; its text is the edge label."""
    assert Guard(("true",)).allows("true") and not Guard(("true",)).allows("false")
    assert Guard(("gold",), negated=True).allows("silver") and not Guard(("gold",), negated=True).allows("gold")
    assert Guard((), negated=True).is_any and Guard((), negated=True).text("tier") == "tier=*"
    assert Guard(("gold plus", "x")).text("tier") == 'tier="gold plus",x'


def test_ids_are_numbered_in_source_order_without_gaps() -> None:
    """Repeated keys get #2, #3 in source order; returns and raises are always numbered."""
    graph = build("finally_ways")
    assert [n.id for n in graph.of_kind("step")] == ["step:handle", "step:cleanup", "step:cleanup#2", "step:cleanup#3", "step:after_loop"]
    assert [n.id for n in build("raising").of_kind("raise")] == ["raise#1", "raise#2"]
    assert "enqueue:receipts.send#2" in build("fulfil_order").nodes


def load_module(path: Path, name: str) -> ModuleType:
    """Import the file at `path` as module `name` (kept in sys.modules so inspect finds it)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_ids_do_not_depend_on_line_numbers(tmp_path: Path) -> None:
    """The same job moved down its file has the same ids and edges, only other lines."""
    source = textwrap.dedent(inspect.getsource(corpus.for_loop))
    header = "from __future__ import annotations\n\nfrom tests.flows.corpus import work\n"
    (tmp_path / "flows_moved_a.py").write_text(header + source)
    (tmp_path / "flows_moved_b.py").write_text(header + "\n" * 40 + "# moved\n" + source)
    try:
        first = build_flow(load_module(tmp_path / "flows_moved_a.py", "flows_moved_a").for_loop, job_name="j")
        second = build_flow(load_module(tmp_path / "flows_moved_b.py", "flows_moved_b").for_loop, job_name="j")
    finally:
        sys.modules.pop("flows_moved_a", None)
        sys.modules.pop("flows_moved_b", None)
    assert list(first.nodes) == list(second.nodes)
    assert first.edges == second.edges
    assert second.nodes["step:fetch"].line == first.nodes["step:fetch"].line + 41


def test_building_twice_gives_equal_graphs() -> None:
    """Building is deterministic: the same function gives an equal graph every time."""
    assert build("fulfil_order") == build("fulfil_order")


def test_helpers_are_inlined_up_to_inline_depth() -> None:
    """Same-module helpers receiving ctx are inlined as deep as inline_depth allows."""
    shallow = build("uses_helpers", inline_depth=0)
    assert [n.id for n in shallow.of_kind("unknown")] == ["unknown:audit", "unknown:countdown"]
    deep = build("uses_helpers", inline_depth=3)
    assert "step:deeper" in deep.nodes and "unknown:deeper" not in deep.nodes
    assert "unknown:countdown" in deep.nodes  # recursion stays unknown at any depth


def test_notes_say_what_was_inlined_and_what_was_not_followed() -> None:
    """Notes name inlined helpers and the calls not followed, with the reason."""
    notes = "\n".join(build("uses_helpers").notes)
    assert "audit(...) is inlined" in notes and "review(...) is inlined" in notes
    assert "deeper(...) receives ctx and is not followed (deeper than inline_depth=2)" in notes
    assert "countdown(...) receives ctx and is not followed (recursive)" in notes
    imported = "\n".join(build("imported_helpers").notes)
    assert "external.remote_audit(...) receives ctx and is not followed (not a module-level function of this module)" in imported


def test_dynamic_names_are_unknown_nodes_without_a_name() -> None:
    """A recording call whose name is not a literal is an unknown node with name None."""
    node = build("dynamic_names").nodes["unknown:ctx.step"]
    assert (node.kind, node.name, node.label) == ("unknown", None, "? ctx.step(...)")
    assert build("dynamic_names").uncertain and not build("straight_line").uncertain


def test_nested_functions_lambdas_and_unreachable_code_are_noted() -> None:
    """Code the builder does not follow, but that records points, is named in the notes."""
    notes = build("not_followed").notes
    assert [note.split(": ", 1)[1] for note in notes] == [
        "nested function inner records points; not followed",
        "a lambda records points; not followed",
        "unreachable code is not shown",
    ]
    assert "step:hidden" not in build("not_followed").nodes


def test_async_jobs_are_built_like_sync_ones() -> None:
    """An ``async def`` job, with ``async with``, ``async for`` and ``await``, is walked the same way."""
    assert build("async_job").function == "tests.flows.corpus.async_job"


def test_a_jobdef_is_unwrapped_and_its_context_flag_respected() -> None:
    """A `JobDef` is built from its function; one that takes no context records nothing."""
    graph = build_flow(corpus.registered, job_name="registered")
    assert edges(graph) == ["start -> step:load", "step:load -> end"]
    no_context = build_flow(corpus.send_receipt, job_name="receipts.send")
    assert edges(no_context) == ["start -> end"]
    assert no_context.notes == ("the function takes no context: it records nothing",)


def test_ctx_name_names_the_context_parameter() -> None:
    """``ctx_name=`` picks the context when it is not the first parameter."""
    graph = build_flow(corpus.context_by_name, job_name="j", ctx_name="context")
    assert edges(graph) == ["start -> step:load", "step:load -> end"]
    guessed = build_flow(corpus.context_by_name, job_name="j")
    assert "step:load" not in guessed.nodes


def test_a_function_without_source_is_refused() -> None:
    """A builtin has no Python source to read: TypeError."""
    with pytest.raises(TypeError):
        build_flow(len, job_name="len")


def test_flow_node_token_is_the_language_spelling() -> None:
    """`FlowNode.token` writes path-language kinds as the language does, others as None."""
    assert FlowNode("step:a", "step", "a", 1, "a").token == "a"
    assert FlowNode("effect:b", "effect", "b", 1, "effect:b").token == "effect:b"
    assert FlowNode("event:c", "event", "c", 1, "event:c").token is None
    assert FlowNode("unknown:ctx.step", "unknown", None, 1, "?").token is None
