"""The sweep function."""
