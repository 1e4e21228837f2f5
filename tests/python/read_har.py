"""Reads a HAR file with haralyzer (an independent reader) and prints what
it sees as JSON: the browser, the creator, and per entry the port and the
WebSocket messages."""
import json
import sys

from haralyzer import HarParser
from haralyzer.assets import HarEntry

with open(sys.argv[1]) as f:
    parser = HarParser(json.load(f))
entries = [HarEntry(e) for e in parser.har_data["entries"]]
entry = entries[0]
print(json.dumps({
    "browser": parser.browser,
    "creator": parser.creator,
    "port": entry.port,
    "url": entry.url,
    "status": entry.status,
    "messages": entry.raw_entry["_webSocketMessages"],
}))
