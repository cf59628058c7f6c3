"""Read-only queries shared by pages, exports and the API (services are the writers)."""
