"""ClassSight cloud side: a shared core and one thin handler per function."""
