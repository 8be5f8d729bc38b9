"""The roster view, split by feature (see README.md here)."""
