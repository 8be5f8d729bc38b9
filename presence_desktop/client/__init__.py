"""The desktop's core without Qt (see README.md in this folder)."""
