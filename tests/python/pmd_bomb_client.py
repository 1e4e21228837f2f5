"""A decompression bomb sender, for wstap's integration tests.

Usage: python3 pmd_bomb_client.py <url> <messages> <bytes>
Negotiates permessage-deflate and sends <messages> binary messages of
<bytes> zeros each (about 1000x compressed), then closes without waiting
long for the reply. Prints "SENT <n>".
"""

import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory


async def main():
    url, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    async with connect(url, compression=None, extensions=[factory], max_size=None, close_timeout=0.5) as ws:
        zeros = bytes(size)
        for _ in range(count):
            await ws.send(zeros)
    print(f"SENT {count}", flush=True)


asyncio.run(main())
