"""Signing in and guarding routes: who is calling (credentials), whether they may (authorization)."""
