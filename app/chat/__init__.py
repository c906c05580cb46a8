"""Conversation logic: no FastAPI, no SQL; store and provider come in as arguments."""
