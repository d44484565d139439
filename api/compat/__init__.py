"""Thin mounts that keep other systems' exact routes under /cozygen/compat/<system>/.

A compat module only translates requests and answers; the logic is CozyGen's own.
"""
