"""Infrastructure: database migrations, the local AWS stack, seed and data scripts."""
