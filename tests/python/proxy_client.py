"""A websockets client that goes through an HTTP proxy, for wstap's tests.

Usage: python3 proxy_client.py <url> <proxy url> <cafile or "">
Connects with websockets' own proxy support (a CONNECT tunnel), trusting
<cafile> for wss, sends one text message, checks the echo, closes with
1000, prints "OK".
"""

import asyncio
import ssl
import sys

from websockets.asyncio.client import connect


async def main():
    url, proxy, cafile = sys.argv[1], sys.argv[2], sys.argv[3]
    context = ssl.create_default_context(cafile=cafile) if url.startswith("wss:") else None
    async with connect(url, proxy=proxy, ssl=context, compression=None) as ws:
        await ws.send(f"through the proxy to {url}")
        echo = await ws.recv()
        if echo != f"through the proxy to {url}":
            sys.exit(f"echo differs: {echo!r}")
    print("OK", flush=True)


asyncio.run(main())
