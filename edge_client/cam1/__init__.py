"""cam1, the doorway camera: wait for a stable face, crop it, upload it through a durable outbox."""
