"""ONNX import (optional extra: pip install gconv_cpu[onnx])."""
