"""The importer's exceptions: both are ValueErrors, so one `except ValueError` catches every refusal."""


class OnnxImportError(ValueError):
    """Base class of the ONNX importer's errors."""


class OnnxModelError(OnnxImportError):
    """The file is not a valid (or not a safe) ONNX model: bad bytes, sizes, wiring or attributes."""


class UnsupportedOperatorError(OnnxImportError):
    """A valid ONNX construct gconv_cpu does not run (an operator, or an attribute value of one).
    op_type and node_name say which."""

    def __init__(self, op_type, node_name, detail="is not supported"):
        self.op_type, self.node_name, self.detail = op_type, node_name, detail
        super().__init__(f"{op_type} node {node_name!r}: {detail}")
