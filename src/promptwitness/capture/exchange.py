"""What the capture edge hands to the store: one exchange, raw bytes and all
(:class:`promptwitness.model.CapturedExchange`, a value the store also takes)."""

from __future__ import annotations

from promptwitness.model import CapturedExchange as CapturedExchange
