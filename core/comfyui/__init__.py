"""What CozyGen decides about ComfyUI's own routes, client ids and the files a graph names."""
