"""``python -m noio_ws``: the command line, see ``noio_ws._cli``."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
