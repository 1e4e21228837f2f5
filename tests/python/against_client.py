"""Client for wstap's `replay --against` tests: the session to record.

Usage: python3 against_client.py <url> '<json messages>'
Sends each message (a string is text, {"hex": ...} binary) and awaits its
echo; a final "bye" is sent and the server's close awaited. Prints
"CLOSED <code>" and exits 0 once the connection is closed.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect


async def main():
    url, messages = sys.argv[1], json.loads(sys.argv[2])
    async with connect(url) as ws:
        for m in messages:
            data = m if isinstance(m, str) else bytes.fromhex(m["hex"])
            await ws.send(data)
            if await ws.recv() != data:
                sys.exit(f"echo of {m!r} differs")
        await ws.send("bye")
        await ws.wait_closed()
        print(f"CLOSED {ws.close_code}", flush=True)


asyncio.run(main())
