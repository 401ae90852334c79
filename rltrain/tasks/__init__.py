"""Built-in tasks that need no download: generated multi-step arithmetic."""
