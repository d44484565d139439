"""Other ComfyUI servers as backends of this CozyGen (issue 21): what they are (model), how CozyGen reaches one
(remote: the protocol api/backends/client.py implements over ComfyUI's own HTTP and websocket API)."""
