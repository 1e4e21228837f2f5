"""Python websockets (asyncio) as the client under test of Autobahn's fuzzingserver.

Usage: python3 fuzzingserver_client.py SERVER_URL AGENT [--cases FIRST-LAST] [--jobs N]

Speaks the fuzzingserver URL protocol the way library drivers do: asks
/getCaseCount (unless --cases gives the numbers, as drivers that hard-code
case numbers do: 7.1.1 is 210 in the full catalogue), runs /runCase for each
number, echoing every message with its type and letting the library answer
pings and the server's close, then asks /updateReports. The message size
limit is 32 MiB (category 9 sends up to 16 MiB). permessage-deflate is
offered, as websockets does by default.

--jobs N runs N cases at once (the fuzzingserver keeps one result per case
and agent, so the protocol allows it); the default is one at a time.
Exits 0 once the reports are written, whatever the verdicts: judging is the
server's job. Progress goes to stderr.
"""

import argparse
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

MAX_SIZE = 32 * 1024 * 1024
# /updateReports writes every report before it answers; give it time.
UPDATE_TIMEOUT = 60


async def case_count(base):
    async with connect(f"{base}/getCaseCount") as ws:
        return int(await ws.recv())


async def run_case(base, number, agent):
    url = f"{base}/runCase?case={number}&agent={agent}"
    try:
        async with connect(url, max_size=MAX_SIZE) as ws:
            async for message in ws:
                await ws.send(message)
    except ConnectionClosed:
        # Failing the connection is how a client answers many cases;
        # judging it is the server's job.
        pass
    except (InvalidHandshake, OSError) as exc:
        print(f"case {number}: {type(exc).__name__}: {exc}", file=sys.stderr)


async def update_reports(base, agent):
    async with connect(f"{base}/updateReports?agent={agent}", open_timeout=UPDATE_TIMEOUT) as ws:
        try:
            await ws.recv()
        except ConnectionClosed:
            pass


def case_range(text):
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the fuzzingserver, e.g. ws://127.0.0.1:9001")
    parser.add_argument("agent", help="agent name for the reports")
    parser.add_argument("--cases", type=case_range, help="case numbers FIRST-LAST (default: 1..getCaseCount)")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    numbers = args.cases or range(1, await case_count(base) + 1)
    gate = asyncio.Semaphore(max(args.jobs, 1))

    async def one(number):
        async with gate:
            await run_case(base, number, args.agent)

    await asyncio.gather(*(one(n) for n in numbers))
    await update_reports(base, args.agent)


asyncio.run(main())
