"""Business calendars as accounts keep them (core/engine/business_days.py gives them their meaning)."""
