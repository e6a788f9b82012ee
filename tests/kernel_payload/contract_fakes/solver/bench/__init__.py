"""Contract fake of the solver.bench package (see ../../README.md)."""
