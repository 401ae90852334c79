"""`python -m rltrain.rm_train`: the reward-model trainer's command line (rltrain.reward_training.cli)."""
import sys

from rltrain.reward_training.cli import main

if __name__ == "__main__":
    sys.exit(main())
