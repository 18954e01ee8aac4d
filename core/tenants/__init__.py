"""Accounts, their API bearer tokens, and the console's single-use sign-in links and sessions."""
