"""Contract fake of the rl package (see ../README.md)."""
