"""The event loop the long-running capture gateway uses (``promptwitness serve``).

uvloop (libuv under asyncio's API, by the authors of asyncpg) roughly halves the
per-request cost of moving 100 KB bodies through aiohttp, which is what a team gateway
does all day. It is used when installed (a dependency on Linux) unless
``PROMPTWITNESS_LOOP=asyncio`` asks for the standard loop. Short-lived runs (``record``,
``probe``) keep the standard loop: their cost is the agent, not the proxy.
"""

from __future__ import annotations

import asyncio
import os

__all__ = ["gateway_loop", "gateway_loop_name"]


def gateway_loop_name() -> str:
    if os.environ.get("PROMPTWITNESS_LOOP", "").lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def gateway_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for the gateway: uvloop when available, else asyncio's."""
    if gateway_loop_name() == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()
