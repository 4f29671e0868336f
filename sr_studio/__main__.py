"""`python -m sr_studio` is the `sr-studio` command."""

import sys

from sr_studio.cli import main

sys.exit(main())
