"""The face_match function."""
