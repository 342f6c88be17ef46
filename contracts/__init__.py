"""What crosses the edge/cloud boundary, defined once for both sides (pydantic only)."""
