"""Transport helpers shared by every network layer (see README.md in this folder)."""
