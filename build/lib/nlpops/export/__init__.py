"""Export: a trained Hugging Face model folder → ONNX fp32 + INT8 model artifact, checked for parity.

Import the submodule you need; this package imports nothing on its own (the export modules need torch).
"""
