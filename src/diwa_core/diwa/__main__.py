"""`python -m diwa ...`: the `diwa` command, for launchers that start modules (torchrun -m, subprocesses)."""

import sys

from diwa.cli import main

sys.exit(main())
