"""Model architectures and conversion scripts (build time only: PyTorch lives here, never at run time)."""
