"""Python websockets as a peer of wstap's fault tests (tests/it/faults.rs).

Usage:
  python3 fault_peer.py server
      echo server without compression; prints "READY <port>" once listening.
  python3 fault_peer.py client URL SPEC_JSON
      runs SPEC and prints one JSON line describing what the client saw.

SPEC: {"send": [MSG...], "echo": true, "close_code": 1000,
       "close_timeout": 2.0, "recv_timeout": 5.0}
MSG is a string (text) or {"binary": N} (N pattern bytes). With "echo",
each message's echo is awaited before the next is sent. The output:
{"received": [lengths], "error": name or null, "close_code": ws.close_code,
 "close_rcvd": code or null, "close_seconds": time close() took}.
Nothing here sleeps for synchronisation: every wait is on the peer.
"""

import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def server():
    async with serve(echo, "127.0.0.1", 0, compression=None, max_size=None, ping_interval=None) as s:
        print("READY", s.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()


def message(m):
    if isinstance(m, str):
        return m
    return bytes(i % 251 for i in range(m["binary"]))


async def client(url, spec):
    out = {"received": [], "error": None, "close_seconds": None}
    ws = await connect(url, compression=None, max_size=None, ping_interval=None,
                       close_timeout=spec.get("close_timeout", 2.0))
    try:
        for m in spec.get("send", []):
            await ws.send(message(m))
            if spec.get("echo", True):
                reply = await asyncio.wait_for(ws.recv(), spec.get("recv_timeout", 5.0))
                out["received"].append(len(reply))
        started = time.monotonic()
        await ws.close(spec.get("close_code", 1000), "bye")
        out["close_seconds"] = time.monotonic() - started
    except ConnectionClosed as e:
        out["error"] = type(e).__name__
    except TimeoutError:
        out["error"] = "timeout"
        await ws.close()
    out["close_code"] = ws.close_code
    rcvd = ws.protocol.close_rcvd
    out["close_rcvd"] = rcvd.code if rcvd else None
    print(json.dumps(out), flush=True)


if sys.argv[1] == "server":
    asyncio.run(server())
else:
    asyncio.run(client(sys.argv[2], json.loads(sys.argv[3])))
