"""A public HTTPS URL for a local port through ngrok, for a notebook's server."""

from __future__ import annotations

import logging
import os


class Tunnel:
    """An ngrok HTTPS tunnel to a local port.

    pyngrok downloads the ngrok agent on first use; NGROK_PATH names an agent already installed.
    """

    def __init__(self, port: int, auth_token: str) -> None:
        from pyngrok import conf, ngrok  # type: ignore[import-untyped]

        # ngrok's own log lines may carry the token; open_tunnel reports failures itself.
        quiet = logging.getLogger("pyngrok")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        self._config = conf.PyngrokConfig(
            auth_token=auth_token, ngrok_path=os.environ.get("NGROK_PATH") or None
        )
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


def open_tunnel(port: int, auth_token: str) -> Tunnel | None:
    """A tunnel to `port`, or None after saying why ngrok refused (a bad token, no agent)."""
    from pyngrok.exception import PyngrokError  # type: ignore[import-untyped]

    try:
        return Tunnel(port, auth_token)
    except (PyngrokError, OSError) as exc:
        # ngrok repeats the token it was given in its error; the saved output must not.
        reason = str(exc).replace(auth_token, "***") if auth_token else str(exc)
        print(f"ngrok could not open a tunnel ({type(exc).__name__}): {reason}")
        print("Check NGROK_AUTHTOKEN (ngrok dashboard: Your Authtoken). This run stays local.")
        return None
