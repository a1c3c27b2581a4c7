"""``python -m py_autotask.cli``: the ``py-autotask`` command line."""

import sys

from py_autotask.cli import main

sys.exit(main())
