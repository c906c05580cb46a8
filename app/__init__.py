"""Realtime AI conversation backend."""
