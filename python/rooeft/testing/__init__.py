"""Fixtures for rooeft's own tests and for tests of code built on rooeft.

- :mod:`rooeft.testing.onnx_toys`: small ONNX models written with ``onnx.helper`` whose outputs
  are known in closed form (each column kind of the ONNX convention), for checking a C++ or
  Python evaluation against exact numbers.

Not imported by the library.
"""
