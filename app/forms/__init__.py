"""Flask-WTF forms; they validate input, never write to the database."""
