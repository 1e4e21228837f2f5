"""Client under test for `wstap replay`, with permessage-deflate.

Usage: python3 pmd_replay_client.py <url> '<json settings>'
Settings as in pmd_echo_server.py, plus "compression": false to offer no
extension at all. Connects, echoes every message until the server closes
(websockets answers the close), then prints one JSON line:
{"extensions": <the 101's Sec-WebSocket-Extensions or null>,
 "received": [{"text": str} | {"hex": str}, ...], "close": <code or null>}
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory


async def main():
    url, settings = sys.argv[1], json.loads(sys.argv[2])
    extensions = []
    if settings.get("compression", True):
        extensions.append(
            ClientPerMessageDeflateFactory(
                server_no_context_takeover=settings.get("server_no_context_takeover", False),
                client_no_context_takeover=settings.get("client_no_context_takeover", False),
                server_max_window_bits=settings.get("server_max_window_bits"),
                client_max_window_bits=settings.get("client_max_window_bits") or True,
            )
        )
    received = []
    async with connect(url, compression=None, extensions=extensions, max_size=None) as ws:
        try:
            async for message in ws:
                if isinstance(message, str):
                    received.append({"text": message})
                else:
                    received.append({"hex": message.hex()})
                await ws.send(message)
        except ConnectionClosed:
            pass
    report = {
        "extensions": ws.response.headers.get("Sec-WebSocket-Extensions"),
        "received": received,
        "close": ws.close_code,
    }
    print(json.dumps(report), flush=True)


asyncio.run(main())
