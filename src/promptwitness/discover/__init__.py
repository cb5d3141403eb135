"""Discovery: find what an agent conditions on without being told (scan, trace, derive, confirm)."""
