"""``python -m ganrun``: what torchrun starts (``torchrun ... -m ganrun RECIPE ...``)."""
import sys

from ganrun.cli import main

sys.exit(main())
