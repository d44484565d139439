"""CozyGen: a phone-first front end and REST API for ComfyUI.

ComfyUI entry only: the node mappings, the web extension folder, and the routes.
"""

from .api import setup
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./web/extension"

setup()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
