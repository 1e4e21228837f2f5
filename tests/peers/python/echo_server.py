"""Python websockets (asyncio) as the server under test of Autobahn's fuzzingclient.

Usage: python3 echo_server.py [PORT]

Listens on 127.0.0.1:PORT (default 0, any free port), prints the bound port
on stdout once it is listening, and echoes every message with its type.
The library answers pings and the close handshake; the message size limit
is 32 MiB (category 9 sends up to 16 MiB); permessage-deflate is accepted
as websockets does by default. Runs until killed.
"""

import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

MAX_SIZE = 32 * 1024 * 1024


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    async with serve(echo, "127.0.0.1", port, max_size=MAX_SIZE) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
