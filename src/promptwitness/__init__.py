"""promptwitness: witness, byte for byte, what AI coding agents send to their models."""

__version__ = "0.1.0"
