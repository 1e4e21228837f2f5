"""Echo server that closes on request, for wstap's `replay --against` tests.

Usage: python3 against_server.py '<json settings>'
Settings: close_code (int, default 1000): the code it closes with when a
client sends the text "bye" (reason "done"). websockets' defaults
otherwise (permessage-deflate accepted, pings answered).
Prints "READY <port>" once listening on 127.0.0.1 (port 0), then serves
until stdin closes.
"""

import asyncio
import json
import sys

from websockets.asyncio.server import serve


async def main():
    settings = json.loads(sys.argv[1])
    code = settings.get("close_code", 1000)

    async def handler(ws):
        async for message in ws:
            if message == "bye":
                await ws.close(code, "done")
                return
            await ws.send(message)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        # Run until the test closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
