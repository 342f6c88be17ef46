"""The enroll function."""
