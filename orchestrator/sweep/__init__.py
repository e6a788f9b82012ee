"""Sweeps (``arz sweep``): a base job fanned out over a matrix into member jobs.

``spec`` reads the sweep file and validates every member as a job; ``launch`` makes the one
commit, checks the GPU quota and pushes members exactly once (``adopt`` finds a member's kernel
by slug after a crash); ``schedule`` runs members within the backend's cap, pulls them and calls
the aggregation; ``view`` draws the table; ``commands`` is what the CLI calls.
"""
