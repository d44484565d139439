"""ComfyUI's editor (UI) format to the API format, on the server, with the host's node definitions.

``convert(data, object_info)`` gives the API graph and a report in the workflow check's shape; ``checked``
adds the workflow check of the result (values the definitions refuse, missing models); ``to_api``
raises ConversionError (400 ``UI_CONVERT``) unless everything converted; ``document.parse`` reads a file's
text within the size and depth limits. The result equals what the editor's own ``graphToPrompt`` exports
(tests/integration/test_ui_convert_equivalence.py compares the two on a corpus).
"""

from .convert import Conversion, checked, convert, to_api
from .document import is_ui_workflow, parse
from .report import ConversionError

__all__ = ["Conversion", "ConversionError", "checked", "convert", "is_ui_workflow", "parse", "to_api"]
