"""The body_match function."""
