"""Accounts: users, passwords, sign-in tokens, login throttling, access levels, the user command."""
