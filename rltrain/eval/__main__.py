"""Entry point: `python -m rltrain.eval --help`."""
import sys

from rltrain.eval.cli import main

if __name__ == "__main__":
    sys.exit(main())
