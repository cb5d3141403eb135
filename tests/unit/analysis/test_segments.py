"""segments(): paths, values, channels; escaping; system-reminder spans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.analysis.segments import (
    escape_name,
    json_text,
    reminders,
    segments,
    unescape_name,
)
from promptwitness.model import Message, Part, Prompt, Segment, Tool


def triples(prompt: Prompt) -> list[tuple[str, str, str]]:
    return [(s.path, s.value, s.channel) for s in segments(prompt)]


def test_full_prompt_paths_values_and_channels() -> None:
    prompt = Prompt(
        protocol="anthropic",
        model="claude-x",
        stream=True,
        system=(
            Part(
                "text",
                "You are an agent.\r\nIt\u2019s 2026-11-24.",
                {"cache_control": {"type": "ephemeral"}},
            ),
            Part("text", "second"),
        ),
        tools=(
            Tool("Bash", "Run a command.", {"type": "object", "required": ["b", "a"]}),
            Tool("Read", None, None, {"cache_control": {"type": "ephemeral"}}),
        ),
        messages=(
            Message(
                "user",
                (
                    Part("text", "hi \u200b"),
                    Part("image", None, {"source": {"type": "base64", "data": "AAAA"}}),
                ),
            ),
            Message(
                "assistant",
                (
                    Part(
                        "tool_use",
                        None,
                        {"id": "t1", "name": "Bash", "input": {"z": 1, "a": "\u00e9"}},
                    ),
                ),
                {"name": "bot"},
            ),
        ),
        params={"max_tokens": 100, "temperature": 0.5, "tool_choice": "auto"},
        metadata={"user_id": "u-1"},
        headers={"user-agent": "claude-cli/2.0 (external, cli)", "anthropic-version": "2023-06-01"},
    )
    assert triples(prompt) == [
        ("model", "claude-x", "param"),
        ("stream", "true", "param"),
        ("params.max_tokens", "100", "param"),
        ("params.temperature", "0.5", "param"),
        ("params.tool_choice", '"auto"', "param"),
        ("system[0].text", "You are an agent.\r\nIt\u2019s 2026-11-24.", "body"),
        ("system[0].cache_control", '{"type":"ephemeral"}', "body"),
        ("system[1].text", "second", "body"),
        ("tools.order", "Bash\nRead", "order"),
        ("tools[Bash].description", "Run a command.", "body"),
        ("tools[Bash].schema", '{"type":"object","required":["b","a"]}', "body"),
        ("tools[Read].cache_control", '{"type":"ephemeral"}', "body"),
        ("messages[0].role", "user", "body"),
        ("messages[0].content[0].text", "hi \u200b", "body"),
        ("messages[0].content[1].type", "image", "body"),
        ("messages[0].content[1].source", '{"type":"base64","data":"AAAA"}', "body"),
        ("messages[1].role", "assistant", "body"),
        ("messages[1].content[0].type", "tool_use", "body"),
        ("messages[1].content[0].id", '"t1"', "body"),
        ("messages[1].content[0].name", '"Bash"', "body"),
        ("messages[1].content[0].input", '{"z":1,"a":"\u00e9"}', "body"),
        ("messages[1].name", '"bot"', "body"),
        ("metadata.user_id", '"u-1"', "body"),
        ("headers.user-agent", "claude-cli/2.0 (external, cli)", "header"),
        ("headers.anthropic-version", "2023-06-01", "header"),
    ]


def test_minimal_prompt() -> None:
    assert segments(Prompt(protocol="openai-chat")) == (Segment("stream", "false", "param"),)


def test_json_keeps_key_order_and_non_ascii() -> None:
    value = {"z": 1, "a": ["\u2019", "\U000e0041", None], "m": {"\u00e9": True}}
    assert json_text(value) == '{"z":1,"a":["\u2019","\U000e0041",null],"m":{"\u00e9":true}}'
    p = Prompt(protocol="x", params={"b": value, "a": 1})
    paths = [s.path for s in segments(p)]
    assert paths.index("params.b") < paths.index("params.a")


def test_text_is_never_normalised() -> None:
    # NFD e + combining acute, ZWJ emoji, CR, NBSP, full-width, tag and VS chars.
    text = "e\u0301 \U0001f468\u200d\U0001f469 a\r\nb\u00a0c\uff01\U000e0041\ufe0f\U000e0100\u202e"
    p = Prompt(protocol="x", model=text, system=(Part("text", text),), headers={"x": text})
    values = {s.path: s.value for s in segments(p)}
    assert values["model"] == text
    assert values["system[0].text"] == text
    assert values["headers.x"] == text


def test_a_string_param_differs_from_a_number() -> None:
    a = {s.path: s.value for s in segments(Prompt(protocol="x", params={"n": "1"}))}
    b = {s.path: s.value for s in segments(Prompt(protocol="x", params={"n": 1}))}
    assert a["params.n"] != b["params.n"]


def test_duplicate_tool_names() -> None:
    p = Prompt(
        protocol="x", tools=(Tool("T", "one"), Tool("U", "u"), Tool("T", "two"), Tool("T", "three"))
    )
    got = [(s.path, s.value) for s in segments(p)]
    assert got[1:] == [
        ("tools.order", "T\nU\nT\nT"),
        ("tools[T].description", "one"),
        ("tools[U].description", "u"),
        ("tools[T#2].description", "two"),
        ("tools[T#3].description", "three"),
    ]


def test_escaped_names() -> None:
    p = Prompt(
        protocol="x",
        tools=(
            Tool("a]b", "x"),
            Tool("a.b", "y"),
            Tool("T#2", "z"),
            Tool("T", "w"),
            Tool("T", "v"),
        ),
        params={"a.b": 1, "x[0]": 2, "back\\slash": 3},
    )
    paths = [s.path for s in segments(p)]
    assert "tools[a\\]b].description" in paths
    assert "tools[a\\.b].description" in paths
    assert "tools[T\\#2].description" in paths
    assert "tools[T#2].description" in paths  # the second "T", distinct from the tool "T#2"
    assert "params.a\\.b" in paths
    assert "params.x\\[0\\]" in paths
    assert "params.back\\\\slash" in paths


def test_extra_fields_cannot_collide_with_modelled_ones() -> None:
    p = Prompt(
        protocol="x",
        tools=(Tool("T", "d", None, {"description": "other", "schema": 1}),),
        messages=(
            Message(
                "user",
                (Part("text", "real", {"text": "fake", "type": "x"}),),
                {"role": "sys", "content": []},
            ),
        ),
    )
    got = {s.path: s.value for s in segments(p)}
    assert got["tools[T].description"] == "d"
    assert got["tools[T].\\description"] == '"other"'
    assert got["tools[T].\\schema"] == "1"
    assert got["messages[0].content[0].text"] == "real"
    assert got["messages[0].content[0].\\text"] == '"fake"'
    assert got["messages[0].content[0].\\type"] == '"x"'
    assert got["messages[0].role"] == "user"
    assert got["messages[0].\\role"] == '"sys"'
    assert got["messages[0].\\content"] == "[]"


names = st.text(alphabet=st.sampled_from("ab.[]#\\2 \u2019"), max_size=8)


@settings(max_examples=200)
@given(names)
def test_unescape_inverts_escape(name: str) -> None:
    assert unescape_name(escape_name(name)) == name
    assert unescape_name(escape_name(name, {name})) == name


@settings(max_examples=200)
@given(st.lists(names, max_size=6), st.dictionaries(names, st.integers(), max_size=4))
def test_paths_are_unique(tool_names: list[str], params: dict[str, int]) -> None:
    p = Prompt(
        protocol="x",
        tools=tuple(Tool(n, "d", {"n": n}, {"extra": 1}) for n in tool_names),
        params=params,
        metadata=params,
        headers={k: "v" for k in params},
    )
    paths = [s.path for s in segments(p)]
    assert len(paths) == len(set(paths))


def test_reminders() -> None:
    text = (
        "before <system-reminder>one\nline \u2019</system-reminder> mid "
        "<system-reminder></system-reminder> <system-reminder>unclosed"
    )
    spans = reminders(text)
    assert [(text[s:e], inner) for s, e, inner in spans] == [
        ("<system-reminder>one\nline \u2019</system-reminder>", "one\nline \u2019"),
        ("<system-reminder></system-reminder>", ""),
    ]
    assert spans[0][0] == len("before ")
    assert reminders("no blocks") == []
