"""Other ComfyUI servers as backends: the aiohttp client (client.py) and the admin routes (routes.py)."""
