"""A single road: the simulation driver, the numpy oracle and the link-level backends."""
