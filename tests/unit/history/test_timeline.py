"""The changelog from hand-built segment maps (history.timeline)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from promptwitness.analysis.diff import apply
from promptwitness.history.timeline import (
    NOISE,
    RunCapture,
    VersionCapture,
    build_timeline,
    categorize,
    is_version_only,
    main_request,
    readable_ops,
    tool_of,
)
from promptwitness.model import Segment

MAIN = "POST /v1/messages [claude-x] #0"


def prompt(
    *,
    version: str = "1.0.0",
    tools: dict[str, str] | None = None,
    system: str = "You are an agent. Today's date is 2026-11-28.",
    session: str = "aaaa-1111",
    device: str = "d1",
    model: str = "claude-x",
    extra: tuple[Segment, ...] = (),
) -> tuple[Segment, ...]:
    tools = {"Bash": "Run a command.", "Read": "Read a file."} if tools is None else tools
    segs = [
        Segment("model", model, "param"),
        Segment("params.max_tokens", "32000", "param"),
        Segment("system[0].text", system),
    ]
    if tools:
        segs.append(Segment("tools.order", "\n".join(tools), "order"))
    for name, desc in tools.items():
        segs.append(Segment(f"tools[{name}].description", desc))
        segs.append(Segment(f"tools[{name}].schema", '{"type":"object"}'))
    segs += [
        Segment("messages[0].role", "user"),
        Segment("messages[0].content[0].text", "Say hi"),
        Segment("metadata.user_id", f'{{"device_id":"{device}","session_id":"{session}"}}'),
        Segment("headers.user-agent", f"agent-cli/{version} (external, cli)", "header"),
        *extra,
    ]
    return tuple(segs)


def run(
    segs: tuple[Segment, ...],
    *,
    key: str = MAIN,
    head: bool = True,
    others: dict[str, tuple[Segment, ...]] | None = None,
) -> RunCapture:
    requests: dict[str, tuple[Segment, ...]] = {}
    if head:
        requests["HEAD / #0"] = (Segment("target", "/", "request"),)
    requests[key] = segs
    requests.update(others or {})
    sizes = {k: sum(len(s.value) for s in v) for k, v in requests.items()}
    return RunCapture(requests, sizes)


def version(v: str, *runs: RunCapture, published: str | None = "2026-03-01") -> VersionCapture:
    return VersionCapture(v, published, tuple(runs))


def two(v: str, **kw: object) -> VersionCapture:
    """A version with two runs that differ only by their session id."""
    return version(
        v,
        run(prompt(version=v, session="aaaa-1111", **kw)),  # type: ignore[arg-type]
        run(prompt(version=v, session="bbbb-2222", **kw)),
    )  # type: ignore[arg-type]


def test_identical_versions_have_an_empty_step_and_noise_is_listed() -> None:
    tl = build_timeline("a", [two("1.0.0"), two("1.0.0")])
    (step,) = tl.steps
    assert step.empty
    for e in tl.entries:
        assert [(n.request, n.path) for n in e.noise] == [("", "metadata.user_id")]
        assert e.noise[0].examples == ("aaaa-1111", "bbbb-2222")
        masked = {s.path: s.value for s in e.segments}
        assert masked["metadata.user_id"] == f'{{"device_id":"d1","session_id":"{NOISE}"}}'


def test_session_ids_never_show_as_changes_between_versions() -> None:
    a = version("1.0.0", run(prompt(session="1111-aaaa")), run(prompt(session="2222-bbbb")))
    b = version("1.0.0", run(prompt(session="3333-cccc")), run(prompt(session="4444-dddd")))
    assert build_timeline("a", [a, b]).steps[0].empty


def test_a_change_outside_the_noise_region_of_a_noisy_segment_is_kept() -> None:
    a = two("1.0.0")
    b = two("1.0.0", device="d2")
    (step,) = build_timeline("a", [a, b]).steps
    (change,) = step.changes
    assert change.path == "metadata.user_id"
    assert change.diff.a == f'{{"device_id":"d1","session_id":"{NOISE}"}}'
    assert change.diff.b == f'{{"device_id":"d2","session_id":"{NOISE}"}}'


def test_tools_added_and_removed_by_name_and_their_segments_not_listed() -> None:
    a = two("1.0.0", tools={"Bash": "Run a command.", "Read": "Read a file.", "Old": "x"})
    b = two(
        "1.0.0", tools={"Bash": "Run a command.", "Read": "Read a file.", "New": "y", "Web": "z"}
    )
    (step,) = build_timeline("a", [a, b]).steps
    assert step.tools_added == ("New", "Web")
    assert step.tools_removed == ("Old",)
    assert [c.path for c in step.changes] == []  # order changed only by the add/remove
    e_a, e_b = build_timeline("a", [a, b]).entries
    assert e_a.sizes is not None and e_b.sizes is not None
    assert (e_a.sizes.tool_count, e_b.sizes.tool_count) == (3, 4)


def test_reordering_kept_tools_is_a_change() -> None:
    a = two("1.0.0", tools={"Bash": "b", "Read": "r"})
    b = two("1.0.0", tools={"Read": "r", "Bash": "b"})
    (step,) = build_timeline("a", [a, b]).steps
    assert [c.path for c in step.changes] == ["tools.order"]
    assert step.changes[0].category == "tools"


def test_description_change_is_listed_with_exact_code_points() -> None:
    a = two("1.0.0")
    b = two("1.0.0", tools={"Bash": "Run a command\u200b.", "Read": "Read a file."})
    (step,) = build_timeline("a", [a, b]).steps
    (change,) = step.changes
    assert change.path == "tools[Bash].description" and change.category == "tools"
    assert not change.version_only
    d = change.diff
    assert d.a is not None and d.b is not None
    edits = [
        (d.a[o.a_start : o.a_end], d.b[o.b_start : o.b_end]) for o in d.ops if o.tag != "equal"
    ]
    assert edits == [("", "\u200b")]


def test_version_number_only_changes_are_marked_expected() -> None:
    (step,) = build_timeline("a", [two("2.1.0"), two("2.1.34")]).steps
    (change,) = step.changes
    assert change.path == "headers.user-agent" and change.category == "headers"
    assert change.version_only
    assert step.notable() == ()


def test_system_message_param_changes_are_categorised() -> None:
    a = two("1.0.0")
    b = two(
        "1.0.0",
        system="You are an agent. Today\u2019s date is 2026/11/28.",
        model="claude-y",
        extra=(Segment("params.thinking", '{"type":"adaptive"}', "param"),),
    )
    tl = build_timeline("a", [a, b])
    (step,) = tl.steps
    by_path = {c.path: c for c in step.changes}
    assert set(by_path) == {"model", "system[0].text", "params.thinking"}
    assert by_path["model"].category == "params"
    assert by_path["params.thinking"].diff.status == "added"
    sys_change = by_path["system[0].text"]
    assert sys_change.category == "system" and not sys_change.version_only
    d = sys_change.diff
    assert d.a is not None and d.b is not None
    edits = [
        (d.a[o.a_start : o.a_end], d.b[o.b_start : o.b_end]) for o in d.ops if o.tag != "equal"
    ]
    assert edits == [("'", "\u2019"), ("-", "/"), ("-", "/")]


def test_main_request_is_the_largest_model_call_whatever_its_key() -> None:
    small = (Segment("model", "haiku", "param"), Segment("messages[0].role", "user"))
    r = run(
        prompt(),
        key="POST /v1/messages [claude-x] #0",
        others={"POST /v1/messages [haiku] #0": small},
    )
    assert main_request(r) == "POST /v1/messages [claude-x] #0"
    assert main_request(RunCapture({"HEAD / #0": (Segment("target", "/", "request"),)})) is None
    # a renamed model gives another key; versions are still compared main to main
    a = two("1.0.0")
    b = version(
        "1.0.0",
        run(prompt(model="claude-y"), key="POST /v1/messages [claude-y] #0"),
        run(prompt(model="claude-y", session="z-9"), key="POST /v1/messages [claude-y] #0"),
    )
    (step,) = build_timeline("a", [a, b]).steps
    assert [c.path for c in step.changes] == ["model"]
    assert step.requests_added == () and step.requests_removed == ()


def test_requests_added_removed_and_noisy_requests() -> None:
    title = (
        Segment("model", "haiku", "param"),
        Segment("messages[0].role", "user"),
        Segment("messages[0].content[0].text", "t"),
    )
    a = version(
        "1.0.0",
        run(prompt(), others={"POST /v1/messages [haiku] #0": title}),
        run(prompt(session="b-2"), others={"POST /v1/messages [haiku] #0": title}),
    )
    b = version(
        "1.0.0",
        run(prompt(), head=False),
        run(
            prompt(session="b-2"),
            head=False,
            others={"GET /api/x #0": (Segment("target", "/api/x", "request"),)},
        ),
    )
    tl = build_timeline("a", [a, b])
    (step,) = tl.steps
    assert step.requests_removed == ("HEAD / #0", "POST /v1/messages [haiku] #0")
    assert step.requests_added == ()
    assert ("GET /api/x #0", "") in [(n.request, n.path) for n in tl.entries[1].noise]


def test_failed_versions_are_entries_without_steps() -> None:
    bad = VersionCapture("1.0.1", None, (), "install: no such version")
    tl = build_timeline("a", [two("1.0.0"), bad, two("1.0.2")])
    assert [e.error for e in tl.entries] == [None, "install: no such version", None]
    assert [(s.before, s.after) for s in tl.steps] == [("1.0.0", "1.0.2")]
    no_model = version(
        "1.0.3",
        run((Segment("target", "/", "request"),), key="HEAD / #1"),
        run((Segment("target", "/", "request"),), key="HEAD / #1"),
    )
    assert build_timeline("a", [no_model]).entries[0].error == "no model call was captured"


def test_sizes() -> None:
    (e,) = build_timeline("a", [two("1.0.0", system="é" * 10)]).entries
    assert e.sizes is not None
    assert e.sizes.system_bytes == 20  # UTF-8 bytes
    assert e.sizes.tools_bytes == len("Run a command.") + len("Read a file.") + 2 * 17
    assert e.sizes.request_bytes == sum(
        len(s.value) for s in prompt(version="1.0.0", system="é" * 10)
    )


def test_helpers() -> None:
    assert tool_of("tools[Bash].description") == ("Bash", "description")
    assert tool_of("tools[a\\]b].schema") == ("a]b", "schema")
    assert tool_of("tools.order") is None
    assert categorize("params.temperature") == "params"
    assert categorize("target") == "params"
    assert categorize("messages[1].role") == "messages"
    assert is_version_only("claude-cli/2.1.0 (x)", "claude-cli/2.1.34 (x)")
    assert is_version_only("cc_version=2.1.50.b97;", "cc_version=2.1.91.b97;")
    assert is_version_only("cc_version=2.1.73.939;", "cc_version=2.1.111.80e;")
    assert is_version_only("x/2.1.3-beta.1", "x/2.1.3")
    assert is_version_only("Claude Code v2.1.0.", "Claude Code v2.1.91.")
    assert not is_version_only("cc_version=2.1.73.939; cch=1;", "cc_version=2.1.111.80e;")
    assert not is_version_only("model-2.1.0x", "model-2.1.1y")
    assert not is_version_only("temperature 1.0", "temperature 0.7")
    assert not is_version_only("v2.1.0 a", "v2.1.1 b")
    assert not is_version_only("same", "same")


texts = st.text(alphabet=st.sampled_from("ab '’-/\n\u200b é.xyz"), max_size=60)


@given(texts, texts)
def test_readable_ops_tile_both_texts_exactly(a: str, b: str) -> None:
    ops = readable_ops(a, b)
    assert apply(a, ops, b) == b
    for o in ops:
        if o.tag == "equal":
            assert a[o.a_start : o.a_end] == b[o.b_start : o.b_end]
    tags = [o.tag for o in ops]
    assert all(not (x != "equal" and y != "equal") for x, y in zip(tags, tags[1:], strict=False))


def test_readable_ops_reads_as_words_but_keeps_small_edits_exact() -> None:
    a = "Executes a given bash command with optional timeout. Working"
    b = "Executes a given bash command and returns its output. The working"
    ops = [(o.tag, a[o.a_start : o.a_end], b[o.b_start : o.b_end]) for o in readable_ops(a, b)]
    assert ops == [
        ("equal", "Executes a given bash command ", "Executes a given bash command "),
        ("replace", "with optional timeout. Working", "and returns its output. The working"),
    ]
    a, b = "Today's date", "Today\u02bcs date"
    ops = [(o.tag, a[o.a_start : o.a_end], b[o.b_start : o.b_end]) for o in readable_ops(a, b)]
    assert ("replace", "'", "\u02bc") in ops
