"""Accounts, and the console's single-use sign-in links."""
