"""Server that speaks first, with permessage-deflate, for wstap's tests.

Usage: python3 pmd_send_server.py '<json settings>'
Settings as in pmd_echo_server.py, plus "send": a list of {"text": str} |
{"hex": str}. Prints "READY <port>" once listening on 127.0.0.1 (port 0).
On each connection: sends each message and waits for its echo (a wrong
echo closes with 4000), then closes with 1000. Runs until stdin closes.
"""

import asyncio
import json
import sys

from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory


async def main():
    settings = json.loads(sys.argv[1])
    messages = [m["text"] if "text" in m else bytes.fromhex(m["hex"]) for m in settings["send"]]

    async def speak(ws):
        for data in messages:
            await ws.send(data)
            if await ws.recv() != data:
                await ws.close(4000, "wrong echo")
                return
        await ws.close(1000)

    factory = ServerPerMessageDeflateFactory(
        server_no_context_takeover=settings.get("server_no_context_takeover", False),
        client_no_context_takeover=settings.get("client_no_context_takeover", False),
        server_max_window_bits=settings.get("server_max_window_bits"),
        client_max_window_bits=settings.get("client_max_window_bits"),
    )
    async with serve(speak, "127.0.0.1", 0, compression=None, extensions=[factory], max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
