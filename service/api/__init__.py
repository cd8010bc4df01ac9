"""HTTP: the Flask app, request validation, error mapping and routes."""
