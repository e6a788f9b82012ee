"""Scenario files: pydantic models of roads and networks, units, checks, loading, the key reference."""
