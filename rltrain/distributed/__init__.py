"""Process-group setup and small collectives used by the trainer."""
