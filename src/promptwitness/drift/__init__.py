"""``promptwitness drift``: covert form variants of shared template text across a fleet.

Sans-IO core: ``units`` (what a line says and how it is written), ``grouping`` (agent,
version, request kind), ``engine`` (the two passes, bounded state), ``senders`` and
``correlate`` (who gets a variant); ``model`` holds the report's values. ``run`` is the
IO loop over a store. See docs/drift.md.
"""
