"""Media files: kinds, what is recorded inside them, reading PNG chunks, encoding video, image loading."""
