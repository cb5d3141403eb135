"""``python -I -m promptwitness.discover.pycworker``: the string constants of one
``.pyc`` (standard input) as text (standard output), in a process of its own.

``marshal`` is "not secure against erroneous or maliciously constructed data": a
hostile ``.pyc`` in a scanned package can crash the interpreter that loads it. So the
scan never loads one itself (``sources.pyc_text_isolated``): this child does, with
its address space and CPU time limited; if it dies, the scan reads the file as
printable strings and says why. Exit codes: 0 text written, 3 not a ``.pyc`` of this
Python (or not code).
"""

from __future__ import annotations

import resource
import sys

from promptwitness.discover.sources import pyc_text

MEMORY = 2 << 30  # address space of the child: 2 GiB
CPU_SECONDS = 20


def main() -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    text = pyc_text(sys.stdin.buffer.read())
    if text is None:
        return 3
    sys.stdout.buffer.write(text.encode("utf-8", "surrogatepass"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
