"""INTERnet: intrinsic temporal regularization for high-resolution human video synthesis."""

__version__ = "0.1.0"
