"""`python -m bench` is the `vlm-bench` command."""

import sys

from bench.cli import main

sys.exit(main())
