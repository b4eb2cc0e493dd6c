"""``python -m pthguard``: the same CLI as the ``pthguard`` command."""

import sys

from pthguard.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
