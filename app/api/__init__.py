"""The HTTP and WebSocket edges of the service."""
