"""Numerical verification (``arz verify``): cases, the exact Riemann solver, the report, the runner."""
