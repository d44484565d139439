"""Other ComfyUI servers as backends: the aiohttp client (client.py) and the admin routes (routes.py, listed in
api/__init__.py's RESOURCE_MODULES)."""
