"""Probe: run an agent under a designed matrix of environments (IO edge: sandbox)."""
