"""Cheap encodings decoded, bounded (discover.decode): each decoder, chains, the
false-positive rules, the budget, and properties over random tables and input."""

from __future__ import annotations

import base64
import codecs
import gzip
import json
import os
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from promptwitness.discover.classify import classify_strings
from promptwitness.discover.decode import Budget, Decoded, decode_literal, decode_text

TABLE = (".example.cn", ".corp.example.com.cn", "api.deepseek.com", "Asia/Shanghai", "zh_CN.UTF-8")
HOST = "api.example.cn"


def xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


def deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def found(text: str, budget: Budget | None = None) -> list[Decoded]:
    return list(decode_text(text, budget))


def only(text: str) -> Decoded:
    results = found(text)
    assert len(results) == 1, results
    return results[0]


def chains(results: list[Decoded]) -> dict[tuple[str, ...], tuple[str, ...]]:
    return {d.encoding: d.strings for d in results}


RAW = ",".join(TABLE).encode()

# -- one decoder each, in code -----------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "chain"),
    [
        (b64(RAW), ("base64",)),
        (b64(RAW).rstrip("="), ("base64",)),
        # "?" at offset 2 of a 3-byte group encodes to "_" (63) in base64url
        (base64.urlsafe_b64encode(b"ab?," + RAW).decode().rstrip("="), ("base64url",)),
        (RAW.hex(), ("hex",)),
        (RAW.hex().upper(), ("hex",)),
        (b64(zlib.compress(RAW)), ("base64", "zlib")),
        (b64(gzip.compress(RAW, mtime=0)), ("base64", "gzip")),
        (b64(deflate_raw(RAW)), ("base64", "deflate")),
        (zlib.compress(RAW).hex(), ("hex", "zlib")),
        (b64(b64(RAW).encode()), ("base64", "base64")),
    ],
)
def test_quoted_blobs(literal: str, chain: tuple[str, ...]) -> None:
    d = only(f'const t = "{literal}";')
    assert d.encoding == chain
    assert d.strings[-len(TABLE) :] == TABLE


def test_the_2026_case_base64_of_xor_of_zlib() -> None:
    """A host-suffix table, zlib-compressed, XORed with a one-byte key, base64: the
    key is given next to the literal, and it is found without it too (the zlib header
    gives it away, the checksum proves it)."""
    blob = b64(xor(zlib.compress(RAW), b"\x5a"))
    keyed = f'var k="{blob}";function d(s){{return inflate(atob(s).map(c=>c^0x5a))}}'
    assert chains(found(keyed)) == {("base64", "xor:5a", "zlib"): TABLE}
    assert chains(found(f'var k="{blob}";')) == {("base64", "xor:5a", "zlib"): TABLE}


def test_the_real_shape_printable_xor_under_base64() -> None:
    """Claude Code 2.1.91: base64 of a comma-separated table XORed with 0x5b, whose
    bytes stay printable (``.com,`` -> ``u846w``): found by the searched key."""
    hosts = b"sankuai.com,netease.com,163.com,baidu-int.com,moonshot.ai,bigmodel.cn"
    words = b"deepseek,moonshot,minimax,zhipu,bigmodel,baichuan,stepfun,dashscope"
    src = f'var Mi_=91,Xi_="{b64(xor(hosts, b"["))}",Pi_="{b64(xor(words, b"["))}";'
    assert [(d.encoding, d.strings) for d in found(src)] == [
        (("base64", "xor:5b"), tuple(hosts.decode().split(","))),
        (("base64", "xor:5b"), tuple(words.decode().split(","))),
    ]


@pytest.mark.parametrize(
    "literal",
    [
        "".join(f"\\x{c:02x}" for c in HOST.encode()),
        "".join(f"\\u{c:04x}" for c in HOST.encode()),
        "".join(f"\\u{{{c:x}}}" for c in HOST.encode()),
        "".join(f"\\{c:03o}" for c in HOST.encode()),
        "api" + "".join(f"\\x{c:02x}" for c in b".example.cn"),
    ],
)
def test_escapes(literal: str) -> None:
    d = only(f'let h = "{literal}";')
    assert d.encoding == ("escape",)
    assert d.strings == (HOST,)


def test_escapes_in_python() -> None:
    literal = "".join(f"\\x{c:02x}" for c in b"Asia/Shanghai")
    assert chains(found(f'ZONE = "{literal}"\n')) == {("escape",): ("Asia/Shanghai",)}


CODES = ",".join(str(c) for c in HOST.encode())


@pytest.mark.parametrize(
    "src",
    [
        f"String.fromCharCode({CODES})",
        f"String.fromCharCode(...[{CODES}])",
        f"String.fromCharCode.apply(null, [{CODES}])",
        f"[{CODES}].map(c => String.fromCharCode(c)).join('')",
        f"''.join(map(chr, [{CODES}]))",
        f"bytes([{CODES}]).decode()",
        "+".join(f"chr({c})" for c in HOST.encode()),
        "+".join(f"String.fromCharCode({c})" for c in HOST.encode()),
        "String.fromCharCode(" + ",".join(hex(c) for c in HOST.encode()) + ")",
    ],
)
def test_charcodes(src: str) -> None:
    d = only(f"x = {src};")
    assert d.encoding == ("charcodes",)
    assert d.strings == (HOST,)


def test_charcodes_xored_with_a_key_in_the_code() -> None:
    codes = ",".join(str(c ^ 0x5A) for c in HOST.encode())
    src = f"var h=[{codes}].map(c=>String.fromCharCode(c^0x5a)).join('');"
    assert chains(found(src)) == {("charcodes", "xor:5a"): (HOST,)}


REVERSED = HOST[::-1]


@pytest.mark.parametrize(
    "src",
    [
        f'"{REVERSED}".split("").reverse().join("")',
        f"'{REVERSED}'.split('').reverse().join('')",
        f'[..."{REVERSED}"].reverse().join("")',
        f'Array.from("{REVERSED}").reverse().join("")',
        '["cn", "example.", "api."].reverse().join("")',
        f'"{REVERSED}"[::-1]',
        f'"".join(reversed("{REVERSED}"))',
    ],
)
def test_reversed(src: str) -> None:
    d = only(f"x = {src};")
    assert d.encoding == ("reverse",)
    assert d.strings == (HOST,)


def test_reversed_base64() -> None:
    src = f'x = "{b64(RAW)[::-1]}".split("").reverse().join("");'
    assert chains(found(src)) == {("reverse", "base64"): TABLE}


@pytest.mark.parametrize(
    ("src", "strings"),
    [
        ('["ap","i.exa","mple.cn"].join("")', (HOST,)),
        ('["api","example","cn"].join(".")', (HOST,)),
        (
            '".example.cn|.example.com.cn|Asia/Shanghai".split("|")',
            (".example.cn", ".example.com.cn", "Asia/Shanghai"),
        ),
        ("'zh_CN;zh_TW;zh_HK'.split(';')", ("zh_CN", "zh_TW", "zh_HK")),
    ],
)
def test_split_join(src: str, strings: tuple[str, ...]) -> None:
    d = only(f"x = {src};")
    assert d.encoding == ("split-join",)
    assert d.strings == strings


def test_split_join_of_base64_pieces() -> None:
    blob = b64(RAW)
    src = f'x = ["{blob[:10]}","{blob[10:30]}","{blob[30:]}"].join("");'
    assert chains(found(src)) == {("split-join", "base64"): TABLE}


def test_ints_that_are_ipv4_addresses_next_to_dotted_quad_code() -> None:
    src = (
        "function ip(n){return [n>>>24,n>>16&255,n>>8&255,n&255].join('.')}"
        "const BLOCK=[0x7f000001, 3232235777, 0x0a000000];"
    )
    assert chains(found(src)) == {("int-ipv4",): ("127.0.0.1", "192.168.1.1", "10.0.0.0")}


def test_ints_without_ip_code_are_numbers() -> None:
    assert found("const K=[0x7f000001, 3232235777]; h = h >>> 24;") == []
    assert found("const MASK=0xffffffff; x=[a>>>24].join('.')") == []


def test_rot_with_the_shift_in_the_code() -> None:
    src = (
        "function r(s){return s.replace(/[a-z]/g,c=>String.fromCharCode("
        '(c.charCodeAt(0)-97+13)%26+97))} var h="ncv.rknzcyr.pa";'
    )
    assert chains(found(src)) == {("rot:13",): (HOST,)}
    table = codecs.encode(".example.cn,.baidu.com,Asia/Shanghai", "rot13")
    assert chains(found(f'const ROT13 = 1; const T = "{table}";')) == {
        ("rot:13",): (".example.cn", ".baidu.com", "Asia/Shanghai")
    }


@pytest.mark.parametrize("n", [1, 3, 13, 25])
def test_rot_searched_for_host_tables(n: int) -> None:
    plain = ".example.cn,.baidu.com,.aliyuncs.com"
    rotated = "".join(chr((ord(c) - 97 + n) % 26 + 97) if c.islower() else c for c in plain)
    d = only(f'var t = "{rotated}";')
    assert d.encoding == (f"rot:{(26 - n) % 26}",)
    assert d.strings == tuple(plain.split(","))


def test_rot_searched_for_zones_and_under_base64() -> None:
    zones = codecs.encode("Asia/Shanghai,Asia/Chongqing,Asia/Urumqi", "rot13")
    assert chains(found(f'z = "{zones}"')) == {
        ("rot:13",): ("Asia/Shanghai", "Asia/Chongqing", "Asia/Urumqi")
    }
    blob = b64(codecs.encode(",".join(TABLE), "rot13").encode())
    assert chains(found(f'z = "{blob}"')) == {("base64", "rot:13"): TABLE}


def test_paths_rotated_or_written_backwards() -> None:
    src = 'TENANT = "/rgp/npzr/granag"\nMARKER = "dellorne./emca/tpo/"\n'
    assert chains(found(src)) == {
        ("rot:13",): ("/etc/acme/tenant",),
        ("reverse",): ("/opt/acme/.enrolled",),
    }
    # real paths stay; backwards only under a top directory that reads differently
    assert found('a = "/etc/acme/tenant"; b = "foo/bar/sys/"; c = "acme/intranet/corp/"') == []


def test_the_hiding_agent_fixture() -> None:
    """Everything tests/fixtures/agents/hiding_agent.py hides in its code."""
    path = Path(__file__).resolve().parents[2] / "fixtures" / "agents" / "hiding_agent.py"
    got = {d.encoding: set(classify_strings(d.strings)) for d in found(path.read_text("utf-8"))}
    assert got[("base64", "xor:5a", "zlib")] == {"host-suffix"}
    assert got[("charcodes",)] == {"zone"}
    assert got[("hex",)] == {"env-var"}
    assert got[("reverse",)] == got[("rot:13",)] == {"path"}


@pytest.mark.parametrize("key", [b"\x5a", b"\x13", b"k3", b"k3y", b"k3y!"])
def test_xor_keys_searched(key: bytes) -> None:
    blob = xor(RAW, key).hex()
    assert chains(found(f'var t = "{blob}";')) == {("hex", f"xor:{key.hex()}"): TABLE}


def test_xor_multibyte_key_given_next_to_the_loop() -> None:
    key = b"s3cr3t-key"  # ten bytes: too long to search
    blob = b64(xor(HOST.encode() * 2, key))
    src = (
        f'var K="{key.decode()}",T="{blob}";'
        "function d(s){let o='';for(let i=0;i<s.length;i++)"
        "o+=String.fromCharCode(s.charCodeAt(i)^K.charCodeAt(i%K.length));return o}"
    )
    assert chains(found(src)) == {("base64", f"xor:{key.hex()}"): (HOST + HOST,)}


def test_offsets_cover_the_source() -> None:
    text = f'a=1;const T="{b64(RAW)}";b=2;x=String.fromCharCode({CODES});'
    results = found(text)
    assert [d.encoding for d in results] == [("base64",), ("charcodes",)], results
    for d in results:
        src = text[d.start : d.end]
        assert src.startswith(('"', "fromCharCode"))
        assert src.endswith(('"', ")"))


def test_json_array_tables() -> None:
    data = json.dumps(list(TABLE)).encode()
    assert chains(found(f'x="{b64(data)}"')) == {("base64",): TABLE}


# -- false positives ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "src",
    [
        # identifiers, words and numbers in quotes
        'a["getOwnPropertyDescriptor"]; b="Content-Type"; c="application"; d="1234567890123"',
        # hashes, ids, sourcemaps, data: URIs
        'integrity:"sha512-' + b64(os.urandom(64)) + '"',
        'sha="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
        "src='data:image/png;base64," + b64(os.urandom(300)) + "'",
        "//# sourceMappingURL=data:application/json;base64," + b64(b'{"version":3}'),
        'id="' + b64(os.urandom(24)) + '"',
        # rulers, padding, regex ranges, ANSI, non-ASCII escapes, byte constants
        'const RULE="--------------------------------"; pad="AAAAAAAAAAAAAAAAAAAA"',
        r're=/[\x41-\x5a\x61-\x7a]/; ws=/[\u0009\u000A\u000D\u0020]/; s="\x1b[31m"',
        r'q="\u201cquoted\u201d \u2014 caf\u00e9 \u4e2d\u6587 \u2500\u2500\u2500\u2500"',
        "const TRUE=new Uint8Array([0x74, 0x72, 0x75, 0x65]); const N=[0, 0, 255, 255];",
        # plain lists in code: keywords and constants
        '"break case catch class const continue".split(" ")',
        '"MAX_VALUE,MIN_VALUE,NaN".split(",")',
        '["line one","line two"].join("\\n")',
        # file names and dotted names are not rotated hosts
        'require("xterm.js"); f="pom.xml"; g="text.html.php"; k="db.cassandra.keyspace"',
        'x = "numpy.any"; y = "ctx.api"; z = "drive.rc"',
    ],
)
def test_no_false_positives(src: str) -> None:
    assert found(src) == []


def test_base64_of_random_bytes_is_dropped() -> None:
    text = ";".join(f'k{i}="{b64(os.urandom(12 + i % 40))}"' for i in range(2000))
    assert found(text) == []


# -- decode_literal ----------------------------------------------------------------------


def test_decode_literal_strings_and_bytes() -> None:
    assert chains(decode_literal(b64(RAW))) == {("base64",): TABLE}
    assert chains(decode_literal(zlib.compress(RAW))) == {("zlib",): TABLE}
    assert chains(decode_literal(deflate_raw(RAW))) == {("deflate",): TABLE}
    assert chains(decode_literal(xor(RAW, b"k3y"))) == {("xor:6b3379",): TABLE}
    assert chains(decode_literal(CODES)) == {("charcodes",): (HOST,)}
    assert chains(decode_literal("ncv.rknzcyr.pa,.onvqh.pbz,.nyvlha.pbz")) == {
        ("rot:13",): (HOST, ".baidu.com", ".aliyun.com")
    }
    d = decode_literal(b64(RAW))[0]
    assert (d.start, d.end) == (0, len(b64(RAW)))


def test_decode_literal_keeps_every_printable_interpretation() -> None:
    # no text-likeness rule for a literal the caller chose: punctuation decodes too
    assert chains(decode_literal(b64(b"{#1}:[!]/(%)"))) == {("base64",): ("{#1}:[!]/(%)",)}
    assert decode_literal(b64(os.urandom(32)) + "@") == []
    assert decode_literal("") == [] and decode_literal(b"") == []


# -- the budget --------------------------------------------------------------------------


def test_candidate_limit() -> None:
    text = ";".join(f'"{b64(os.urandom(12))}"' for _ in range(100))
    budget = Budget(max_candidates=10)
    found(text, budget)
    assert budget.exhausted and budget.reason == "candidates" and budget.candidates == 10


def test_deadline() -> None:
    budget = Budget(deadline=time.monotonic() - 1)
    assert found(f'x="{b64(RAW)}"', budget) == []
    assert budget.exhausted and budget.reason == "deadline"


def test_output_limit() -> None:
    text = ";".join(f'"{b64(RAW + str(i).encode())}"' for i in range(50))
    budget = Budget(max_output_bytes=1000)
    results = found(text, budget)
    assert budget.exhausted and budget.reason == "output"
    assert budget.produced <= 1000
    assert 0 < len(results) < 50


def test_depth_limit() -> None:
    blob = b64(b64(b64(RAW).encode()).encode())
    assert (
        chains(decode_literal(blob, Budget(max_depth=3)))[("base64", "base64", "base64")] == TABLE
    )
    # two layers deep, the third base64 layer stays undecoded: what comes out is base64
    # text again, never the table
    shallow = chains(decode_literal(blob, Budget(max_depth=2)))
    assert set(shallow) == {("base64",), ("base64", "base64")}, shallow
    assert TABLE not in shallow.values()
    assert shallow[("base64", "base64")] == (b64(RAW),)


def test_a_literal_larger_than_a_piece_is_skipped_and_counted() -> None:
    budget = Budget(max_piece=1024)
    assert found(f'x="{b64(RAW * 100)}"', budget) == []
    assert budget.oversized == 1 and not budget.exhausted


@pytest.fixture(scope="module")
def gigabyte_of_zeros_zlib() -> bytes:
    """zlib of 1 GiB of zeros, built in 1 MiB chunks (about 1 MB, in about a second)."""
    c = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    return b"".join(c.compress(chunk) for _ in range(1024)) + c.flush()


def test_decode_bomb_is_counted_not_an_outage(gigabyte_of_zeros_zlib: bytes) -> None:
    blob = b64(gigabyte_of_zeros_zlib)
    tracemalloc.start()
    try:
        budget = Budget(max_piece=4 << 20)  # let the 1 MB stream itself through
        assert found(f'x="{blob}"', budget) == []
        assert decode_literal(blob, budget) == []
        nested = Budget()  # zlib of the stream: 1 MB out of the first step, a bomb next
        assert decode_literal(b64(zlib.compress(gigabyte_of_zeros_zlib, 9)), nested) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert budget.bombs == 2 and nested.bombs == 1
    assert peak < 64 << 20  # the input is 1.4 MB; the bound keeps every step small


def test_hostile_repetition_stays_fast() -> None:
    budget = Budget(max_candidates=20_000)
    t0 = time.perf_counter()
    found('"ab".split("").reverse().join("");' * 50_000, budget)
    found(f'"{b64(b"hello world!")}",' * 50_000, Budget())
    found("[" + ",".join(["104"] * 300_000) + "]", Budget(max_piece=1 << 16))
    assert time.perf_counter() - t0 < 10
    assert budget.reason == "candidates"


# -- properties --------------------------------------------------------------------------

ENTRY = (
    st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters=",;|"),
        min_size=1,
        max_size=24,
    )
    .map(str.strip)
    .filter(bool)
)
TABLES = st.lists(ENTRY, min_size=1, max_size=8).filter(
    lambda t: sum(map(len, t)) >= 4 and any(c.isalnum() for c in "".join(t))
)

ENCODERS: dict[str, tuple[Callable[[bytes], str | bytes], tuple[str, ...]]] = {
    "base64": (lambda b: b64(b), ("base64",)),
    "hex": (lambda b: b.hex(), ("hex",)),
    "escape": (lambda b: "".join(f"\\x{c:02x}" for c in b), ("escape",)),
    "unicode-escape": (lambda b: "".join(f"\\u{c:04x}" for c in b), ("escape",)),
    "charcodes": (lambda b: ",".join(map(str, b)), ("charcodes",)),
    "base64-zlib": (lambda b: b64(zlib.compress(b)), ("base64", "zlib")),
    "hex-gzip": (lambda b: gzip.compress(b, mtime=0).hex(), ("hex", "gzip")),
    "base64-deflate": (lambda b: b64(deflate_raw(b)), ("base64", "deflate")),
    "base64-base64": (lambda b: b64(b64(b).encode()), ("base64", "base64")),
    "zlib-bytes": (lambda b: zlib.compress(b), ("zlib",)),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TABLES, st.sampled_from(sorted(ENCODERS)))
def test_round_trip_of_printable_tables(table: list[str], name: str) -> None:
    text = ",".join(table)
    assume(not (text.startswith("[") and text.endswith("]")))  # that is a JSON array
    encode, chain = ENCODERS[name]
    results = decode_literal(encode(text.encode()))
    assert (chain, tuple(table)) in [(d.encoding, d.strings) for d in results]


NAME = st.sampled_from(
    [
        "example",
        "baidu",
        "aliyun",
        "tencent",
        "deepseek",
        "moonshot",
        "zhipu",
        "bytedance",
        "openai",
        "anthropic",
        "github",
        "npmjs",
        "python",
        "mirrors",
        "cloud",
        "internal",
        "corp",
        "gateway",
        "proxy",
        "volces",
        "sankuai",
        "netease",
        "kuaishou",
        "xiaohongshu",
    ]
)
HOSTS = st.lists(
    st.tuples(
        st.sampled_from(["", ".", "api."]),
        NAME,
        st.sampled_from(["com", "cn", "net", "org", "ai", "com.cn"]),
    ),
    min_size=2,
    max_size=6,
    unique=True,
).map(lambda parts: tuple(f"{a}{b}.{c}" for a, b, c in parts))


@settings(max_examples=60, deadline=None)
@given(HOSTS, st.integers(min_value=1, max_value=255))
def test_round_trip_of_host_tables_under_searched_xor(hosts: tuple[str, ...], key: int) -> None:
    """A one-byte key is always found: alone (every byte must turn printable, the best
    English wins) and over zlib (the header gives it away, the checksum proves it).
    Keys of 2-4 bytes are found from about 16 bytes per key byte
    (``test_xor_keys_searched``; frequency analysis of shorter columns guesses)."""
    data = ",".join(hosts).encode()
    results = decode_literal(b64(xor(zlib.compress(data), bytes([key]))))
    assert (("base64", f"xor:{key:02x}", "zlib"), hosts) in [
        (d.encoding, d.strings) for d in results
    ]
    results = decode_literal(xor(data, bytes([key])))
    assert hosts in [d.strings for d in results]


@settings(max_examples=40, deadline=None)
@given(HOSTS, st.integers(min_value=1, max_value=25))
def test_round_trip_of_host_tables_under_code(hosts: tuple[str, ...], n: int) -> None:
    text = ",".join(hosts)
    codes = ",".join(str(ord(c)) for c in text)
    src = (
        f'a="{b64(text.encode())}"; b=String.fromCharCode({codes});'
        f' c="{text[::-1]}".split("").reverse().join("");'
    )
    assert [d.strings for d in found(src)] == [hosts, hosts, hosts]


ARBITRARY_TEXT = st.text(max_size=2000) | st.text(
    alphabet="\"'`[](),.\\x0123456789abcdefABCDEF+/=^%&>| ", max_size=2000
)


@settings(max_examples=200, deadline=None)
@given(ARBITRARY_TEXT, st.booleans())
def test_arbitrary_text_never_raises_and_respects_the_budget(text: str, planted: bool) -> None:
    """Any text, with or without a base64 table planted in it (on its own line, so no
    arbitrary neighbour can run into the literal): nothing raises, the budget holds,
    every result is well formed, and the planted table is always among them."""
    if planted:
        text = f'{text}\nvar t="{b64(RAW)}";\n{text}'
    budget = Budget(max_candidates=50, max_output_bytes=20_000, max_depth=3, max_piece=4096)
    results = list(decode_text(text, budget))
    assert budget.candidates <= 50 and budget.produced <= 20_000
    for d in results:
        assert 1 <= len(d.encoding) <= 3 and d.strings
        assert 0 <= d.start < d.end <= len(text)
    if planted and not budget.exhausted:
        assert chains(results).get(("base64",)) == TABLE


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000) | st.text(max_size=1000), st.booleans())
def test_arbitrary_literals_never_raise_and_respect_the_budget(
    value: bytes | str, planted: bool
) -> None:
    """Any literal, or a zlib stream of a table (always decoded), never raises; every
    result is well formed and the budget holds."""
    if planted:
        value = zlib.compress(RAW)
    budget = Budget(max_output_bytes=50_000, max_depth=3, max_piece=8192)
    results = list(decode_literal(value, budget))
    for d in results:
        assert 1 <= len(d.encoding) <= 3 and all(d.strings)
    assert budget.produced <= 50_000
    if planted:
        assert chains(results) == {("zlib",): TABLE}
