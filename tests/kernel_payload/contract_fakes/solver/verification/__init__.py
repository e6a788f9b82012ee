"""Contract fake of the solver.verification package (see ../../README.md)."""
