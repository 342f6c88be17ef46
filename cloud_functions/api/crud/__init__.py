"""Reads and writes behind the routes, one module per resource, on a caller's connection.

Each function takes the request's ``Connection`` (one transaction per request), applies the
rules and raises the API's error types; routes only translate between HTTP and these calls.
"""
