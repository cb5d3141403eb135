import sys

from promptwitness.native import main

sys.exit(main())
