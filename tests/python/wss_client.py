"""A wss client that trusts one CA file, for wstap's TLS tests.

Usage: python3 wss_client.py <url> <cafile>
Sends a text and a binary message, checks each echo, closes with 1000,
prints "OK" and exits 0; anything else exits 1 with the reason.
"""

import asyncio
import ssl
import sys

from websockets.asyncio.client import connect


async def main():
    url, cafile = sys.argv[1], sys.argv[2]
    context = ssl.create_default_context(cafile=cafile)
    async with connect(url, ssl=context, compression=None) as ws:
        for message in ["hello from python ssl", bytes(range(256))]:
            await ws.send(message)
            echo = await ws.recv()
            if echo != message:
                sys.exit(f"echo differs: {echo!r}")
    print("OK", flush=True)


asyncio.run(main())
