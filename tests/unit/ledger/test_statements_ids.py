"""Per-run ids keep their shape, not their digit pattern (ledger.statements.run_form)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from promptwitness.ledger.statements import SCOPE_SPANS, run_form


@given(st.uuids(), st.uuids())
def test_any_two_uuids_share_a_form(a: uuid.UUID, b: uuid.UUID) -> None:
    assert run_form(f'{{"session_id":"{a}"}}', SCOPE_SPANS) == run_form(
        f'{{"session_id":"{b}"}}', SCOPE_SPANS
    )


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_hex_ids_of_one_length_share_a_form(a: bytes, b: bytes) -> None:
    assert run_form(f"device {a.hex()}", SCOPE_SPANS) == run_form(f"device {b.hex()}", SCOPE_SPANS)


def test_case_length_and_surroundings_are_form() -> None:
    base = run_form("id=0123456789abcdef0123 end", SCOPE_SPANS)
    assert run_form("id=0123456789ABCDEF0123 end", SCOPE_SPANS) != base  # case changed
    assert run_form("id=0123456789abcdef01234 end", SCOPE_SPANS) != base  # longer
    assert run_form("id=0123456789abcdef0123 end.", SCOPE_SPANS) != base  # text around
    assert run_form("id=fedcba98765432100000 end", SCOPE_SPANS) == base
