"""How uvicorn serves the app: one set of options for every way the server is started.

`python -m app` and `app.background.BackgroundServer` pass `uvicorn_options(settings)`; plain
`uvicorn app.main:app` needs the same as flags (`uvicorn_flags(settings)`, printed by
`python -m app.serving`), see docs/api.md "Running it".
"""

from __future__ import annotations

from typing import Any

from app.config import Settings, load_settings

# Bytes one character of a user message can take in a frame: a JSON escape of a character outside
# the Basic Multilingual Plane is a surrogate pair, `\\ud83d\\ude00`, 12 bytes for one character.
BYTES_PER_CHAR = 12
# Room for the rest of a `user.message` frame: its type, a 128-character client_message_id
# (escaped, too), on_busy and whitespace.
ENVELOPE_BYTES = 16 * 1024
WS_PROTOCOL = "websockets-sansio"


def ws_max_size(max_message_chars: int) -> int:
    """The largest WebSocket message the server reads: a longest user message, escaped, framed."""
    return max_message_chars * BYTES_PER_CHAR + ENVELOPE_BYTES


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` that bound what a client can send.

    A frame over `ws_max_size` closes its connection (1009) before it is held whole; without
    permessage-deflate a 16 KB frame on the wire cannot grow to 16 MiB in the server.
    """
    return {
        "ws": WS_PROTOCOL,
        "ws_max_size": ws_max_size(settings.max_message_chars),
        # Frames are small and many: compressing each one cost 14-46 % of the server's time.
        "ws_per_message_deflate": settings.ws_per_message_deflate,
    }


def uvicorn_flags(settings: Settings) -> list[str]:
    """The same options as command-line flags of `uvicorn app.main:app`."""
    options = uvicorn_options(settings)
    return [
        f"--ws={options['ws']}",
        f"--ws-max-size={options['ws_max_size']}",
        f"--ws-per-message-deflate={str(options['ws_per_message_deflate']).lower()}",
    ]


if __name__ == "__main__":
    print("uvicorn app.main:app " + " ".join(uvicorn_flags(load_settings())))
