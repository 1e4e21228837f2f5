"""A wss echo server with its own ssl context, for wstap's TLS tests.

Usage: python3 wss_echo_server.py '<json settings>'
Settings: cert, key (PEM file paths; cert may hold the chain).
Prints "READY <port>" once listening on 127.0.0.1 (port 0), then echoes
every message until stdin closes.
"""

import asyncio
import json
import ssl
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    settings = json.loads(sys.argv[1])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(settings["cert"], settings["key"])
    context.set_alpn_protocols(["http/1.1"])
    async with serve(echo, "127.0.0.1", 0, ssl=context, compression=None, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
