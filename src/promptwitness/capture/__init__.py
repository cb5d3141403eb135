"""IO edge: the capture server (sink and pass-through), redaction, HAR."""
