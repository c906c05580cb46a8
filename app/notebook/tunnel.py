"""A public HTTPS URL for a local port through ngrok, for a notebook's server."""

from __future__ import annotations


class Tunnel:
    """An ngrok HTTPS tunnel to a local port (pyngrok downloads the agent on first use)."""

    def __init__(self, port: int, auth_token: str) -> None:
        from pyngrok import conf, ngrok  # type: ignore[import-untyped]

        self._config = conf.PyngrokConfig(auth_token=auth_token)
        opened = ngrok.connect(str(port), "http", pyngrok_config=self._config)
        if opened.public_url is None:
            raise RuntimeError("ngrok opened a tunnel without a public URL")
        self.public_url: str = opened.public_url.replace("http://", "https://", 1)
        self._opened_url = opened.public_url

    def close(self) -> None:
        """Close the tunnel and stop the ngrok agent."""
        from pyngrok import ngrok

        ngrok.disconnect(self._opened_url, pyngrok_config=self._config)
        ngrok.kill(pyngrok_config=self._config)
