"""Contract fake of the solver package (see ../README.md)."""
