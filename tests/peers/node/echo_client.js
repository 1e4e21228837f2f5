// node ws as a one-case client: connects to URL, echoes every message with
// its type, lets ws answer pings and the server's close, and exits once the
// connection is closed (0 whatever the close code: judging is wstap's job).
//
// Usage: node echo_client.js URL
//
// For `wstap replay --client 'node tests/peers/node/echo_client.js {url}'`,
// one process per case (`cargo bench --bench replay -- --full --peer node`
// runs the whole catalogue this way in parallel). ws's defaults stand, as
// in fuzzingserver_client.js: it offers permessage-deflate and accepts
// messages up to 100 MiB.
'use strict';

const WebSocket = require('ws');

const url = process.argv[2];
if (!url) {
  console.error('usage: node echo_client.js URL');
  process.exit(2);
}
const ws = new WebSocket(url);
ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
// Failing the connection is how a client answers many cases.
ws.on('error', () => {});
ws.on('close', () => process.exit(0));
