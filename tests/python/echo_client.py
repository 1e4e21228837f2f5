"""A tiny Autobahn-style client, for wstap's integration tests.

Usage: python3 echo_client.py <url>

Connects (offering permessage-deflate, as websockets does by default),
echoes every message back with the same type, lets the library answer
pings and the server's close, and exits once the connection is closed.
Exits 0 whatever close code the server chose: judging is wstap's job.
"""

import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def main():
    # Autobahn's client drivers raise the size limit for category 9; the
    # largest category-7 message is 256 KiB.
    async with connect(sys.argv[1], max_size=2**25) as ws:
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosed:
            pass


asyncio.run(main())
