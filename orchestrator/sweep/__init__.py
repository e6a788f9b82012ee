"""Sweeps (``arz sweep``): a base job fanned out over a matrix into member jobs.

``spec`` reads the sweep file and validates every member as a job; ``launch`` makes the one
commit, checks the GPU quota and pushes members exactly once (the backend's ``find`` looks a
member's kernel up by slug after a crash); ``schedule`` runs members within the backend's cap,
pulls them and calls the aggregation; ``view`` draws the table; ``commands`` is what the CLI calls.
"""
