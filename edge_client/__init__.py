"""Programs for classroom PCs: cam1 (doorway faces) and cam2 (room tracking)."""
