"""drift.correlate: which sender attributes separate a variant from the others."""

from __future__ import annotations

from collections import Counter

from promptwitness.drift.correlate import OTHER, separate


def counts(**dims: dict[str, int]) -> dict[str, Counter[str]]:
    return {k.replace("_", "-"): Counter(v) for k, v in dims.items()}


def test_one_host_explains_the_variant_and_per_client_values_do_not() -> None:
    w = counts(
        host={"api.corp.cn": 6},
        client_subnet={"10.0.1.0/24": 3, "10.0.2.0/24": 3},
        credential={"k1": 2, "k2": 2, "k3": 2},
    )
    o = counts(
        host={"api.anthropic.com": 30, "llm.acme.internal": 24},
        client_subnet={"10.0.1.0/24": 27, "10.0.2.0/24": 27},
        credential={f"k{i}": 2 for i in range(4, 31)},
    )
    seps, notes = separate(w, o, 6, 54, 3)
    assert [(s.dimension, s.values, s.verdict) for s in seps] == [
        ("host", ("api.corp.cn",), "explains"),
        ("credential", ("k1", "k2", "k3"), "per-sender"),
    ]
    assert seps[0].sentence() == "host=api.corp.cn: 6 of 6 with the variant, 0 of 54 others"
    assert any("sender by sender" in n for n in notes)
    assert not any("confounded" in n for n in notes)


def test_two_dimensions_that_covary_are_reported_as_confounded() -> None:
    w = counts(host={"api.corp.cn": 4}, client_subnet={"10.9.9.0/24": 4})
    o = counts(host={"api.anthropic.com": 10}, client_subnet={"10.0.1.0/24": 10})
    seps, notes = separate(w, o, 4, 10, 4)
    assert {s.dimension for s in seps if s.verdict == "explains"} == {"host", "client-subnet"}
    assert seps[0].dimension == "host"  # the preferred order when equally good
    assert any(n.startswith("confounded: host, client-subnet") for n in notes)


def test_a_group_of_two_values_explains_when_fewer_than_the_senders() -> None:
    w = counts(host={"a.cn": 3, "b.cn": 3})
    o = counts(host={"c.com": 8})
    seps, _ = separate(w, o, 6, 8, 4)
    assert seps[0].verdict == "explains" and seps[0].values == ("a.cn", "b.cn")
    seps, _ = separate(w, o, 6, 8, 2)  # as many values as senders: per sender only
    assert seps[0].verdict == "per-sender"


def test_nothing_separates_a_random_split() -> None:
    w = counts(host={"a": 2, "b": 1}, model={"m": 3})
    o = counts(host={"a": 5, "b": 5}, model={"m": 10})
    seps, notes = separate(w, o, 3, 10, 3)
    assert all(s.verdict == "partial" for s in seps)
    assert seps and seps[0].dimension == "host" and seps[0].values == ("a",)
    assert any(n.startswith("nothing the gateway knows separates") for n in notes)


def test_pooled_values_are_never_claimed() -> None:
    w = counts(header_x={OTHER: 5})
    o = counts(header_x={"v": 5})
    seps, notes = separate(w, o, 5, 5, 5)
    assert not [s for s in seps if s.verdict != "partial"]
    assert any("nothing the gateway knows" in n for n in notes)
