"""Pure rules: no database session, unit-tested on their own."""
