"""Services: the only code that changes state. They flush, never commit; callers commit once."""
