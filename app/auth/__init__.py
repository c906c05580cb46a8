"""Who is calling: the service's key, a user's own token, and how often a user may write."""
