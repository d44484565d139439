"""Danbooru tag lists, the users' own prompt tags, and the index that searches them."""
