"""What crosses the edge/cloud boundary, defined once and imported by both sides.

Needs nothing but pydantic: the classroom PCs install it without the cloud's dependencies, and
the function images without the edge's.

- ``ids``: identifiers (USN, room, camera, capture, course) with the database columns' limits;
- ``keys``: object-key prefixes, builders and parsers of the capture bucket;
- ``captures``: the S3 user metadata of face, body and gallery crops;
- ``handoff``: the message face_match and body_match publish and cam2 consumes;
- ``presence``: the report cam2 writes and the presence function reads.
"""
