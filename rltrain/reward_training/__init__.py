"""Reward-model training (`python -m rltrain.rm_train`): examples and the training loop (`training`),
Math-Shepherd labels from rollouts (`auto_label`), existing step labels (`labelled_data`), the
problems a run trains on (`problem_source`), the command line (`cli`)."""
