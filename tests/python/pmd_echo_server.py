"""Echo server with permessage-deflate, for wstap's integration tests.

Usage: python3 pmd_echo_server.py '<json settings>'
Settings: server_no_context_takeover, client_no_context_takeover (bools),
server_max_window_bits, client_max_window_bits (ints or null).
Prints "READY <port>" once listening on 127.0.0.1 (port 0), then echoes
every message until stdin closes.
"""

import asyncio
import json
import sys

from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    settings = json.loads(sys.argv[1])
    factory = ServerPerMessageDeflateFactory(
        server_no_context_takeover=settings.get("server_no_context_takeover", False),
        client_no_context_takeover=settings.get("client_no_context_takeover", False),
        server_max_window_bits=settings.get("server_max_window_bits"),
        client_max_window_bits=settings.get("client_max_window_bits"),
    )
    async with serve(echo, "127.0.0.1", 0, compression=None, extensions=[factory], max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        # Run until the test closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
