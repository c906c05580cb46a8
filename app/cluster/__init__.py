"""Several server processes as one service: leases, the relay between processes, recovery."""
