"""Client with permessage-deflate, for wstap's integration tests.

Usage: python3 pmd_client.py <url> '<json settings>' < messages.json
Settings as in pmd_echo_server.py. Messages (on stdin): a list of
{"text": str} | {"hex": str}, optionally with "fragments": n to send the
message as n frames. Each message is sent and its echo awaited and
compared; prints "OK <n>" and exits 0 if every echo matched.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory


def split(data, n):
    size = max(1, -(-len(data) // n))
    return [data[i : i + size] for i in range(0, len(data), size)]


async def main():
    url, settings, messages = sys.argv[1], json.loads(sys.argv[2]), json.load(sys.stdin)
    factory = ClientPerMessageDeflateFactory(
        server_no_context_takeover=settings.get("server_no_context_takeover", False),
        client_no_context_takeover=settings.get("client_no_context_takeover", False),
        server_max_window_bits=settings.get("server_max_window_bits"),
        client_max_window_bits=settings.get("client_max_window_bits") or True,
    )
    async with connect(url, compression=None, extensions=[factory], max_size=None) as ws:
        for m in messages:
            data = m["text"] if "text" in m else bytes.fromhex(m["hex"])
            n = m.get("fragments", 1)
            await ws.send(split(data, n) if n > 1 else data)
            echo = await ws.recv()
            if echo != data:
                sys.exit(f"echo of message {messages.index(m)} differs")
    print(f"OK {len(messages)}", flush=True)


asyncio.run(main())
