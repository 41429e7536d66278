"""`python -m resnetlab` (what torchrun launches) runs the command line."""

import sys

from resnetlab.cli import main

sys.exit(main())
