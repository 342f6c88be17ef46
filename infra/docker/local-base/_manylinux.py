"""Which manylinux wheels pip may install: those the AWS Lambda Python 3.11 image can run.

pip asks this module (PEP 600) whether a ``manylinux_X_Y`` wheel suits the system. The AWS image
runs Amazon Linux 2, whose glibc is 2.26; this stand-in's Debian glibc is newer. Without this
answer pip here would pick wheels that need a newer glibc (onnxruntime >= 1.17, NumPy >= 2.3 ...),
which ``pip install`` on the AWS image refuses, and an image that works here would fail to build
with ``sam build``.
"""

AWS_BASE_GLIBC = (2, 26)


def manylinux_compatible(tag_major: int, tag_minor: int, tag_arch: str) -> bool:
    """True for wheels built for glibc 2.26 or older."""
    return (tag_major, tag_minor) <= AWS_BASE_GLIBC
