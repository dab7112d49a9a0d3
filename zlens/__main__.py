"""`python -m zlens` is the `zlens` command."""

import sys

from zlens.cli import main

sys.exit(main())
