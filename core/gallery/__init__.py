"""The gallery: the index of the output and input folders, kept current, thumbnails, trash, placing files."""
