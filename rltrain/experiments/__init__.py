"""Experiments built on the trainer (`python -m rltrain.experiments.<name>`)."""
