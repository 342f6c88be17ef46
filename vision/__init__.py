"""Model adapters shared by the edge and the cloud (numpy, OpenCV and onnxruntime only)."""
