"""Domain rules, ports and adapters shared by every function and the API."""
