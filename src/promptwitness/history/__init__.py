"""``history``: an agent's prompt across releases (a changelog the vendor never wrote)
and a bisect of when a probe finding starts and stops.

- ``history.versions`` (sans-IO): RANGE parsing, ordering, even sampling;
- ``history.timeline`` (sans-IO): per-version baselines -> noise, sizes, changes;
- ``history.bisect`` (sans-IO): signatures and the O(log n) search;
- ``history.run`` (IO): install, capture and audit each version with the probe runner;
- ``history.document``: the ``promptwitness/history/v1`` JSON.
"""
