"""Presenters: turn analysis results into something a person (or a tool) reads.

``report.unicode`` makes hidden and look-alike code points visible; ``report.terminal``
builds rich renderables for the terminal. Presenters never recompute analysis.
"""
