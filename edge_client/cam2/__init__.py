"""cam2, the room camera: person detection (YOLO), tracking (ByteTrack), door-entry handoffs,
identity carry-over (body re-id), presence reports, body crops and an annotated MJPEG stream.

Run it with ``python -m edge_client.cam2``; the per-frame flow is
:class:`~edge_client.cam2.pipeline.RoomPipeline`.
"""
