"""``python -m rnntui``: the same as the ``rnntui`` command."""

import sys

from rnntui.entry import main

if __name__ == "__main__":
    sys.exit(main())
