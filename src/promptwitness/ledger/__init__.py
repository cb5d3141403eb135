"""Provenance: an RFC 9162 Merkle log of every stored exchange, C2SP signed checkpoints,
and DSSE / in-toto statements (prompt manifests, probe results, prompt diffs).

Sans-IO cores: ``merkle``, ``note``, ``dsse``, ``record``, ``statements``. IO edges:
``keys`` (key files) and ``log`` (the log's tables in the capture store). The formats
are specified in docs/provenance.md.
"""
