"""Serving: the model artifact, one ONNX Runtime inference core, and the FastAPI, Lambda and batch front ends.

Nothing under this package imports torch, Lightning or Hydra, so the serving and Lambda images stay small
and start fast. Import the submodule you need; this package imports nothing on its own.
"""
