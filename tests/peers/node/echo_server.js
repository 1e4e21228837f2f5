// node ws as the server under test of Autobahn's fuzzingclient.
//
// Usage: node echo_server.js [PORT]
//
// Listens on 127.0.0.1:PORT (default 0, any free port), prints the bound port
// on stdout once it is listening, and echoes every message with its type. ws
// answers pings and the close handshake. permessage-deflate is enabled (ws's
// server default is off; its own Autobahn server turns it on so that
// categories 12 and 13 run). Runs until killed.
'use strict';

const WebSocket = require('ws');

const port = Number(process.argv[2] || 0);
const server = new WebSocket.Server({ host: '127.0.0.1', port, perMessageDeflate: true });
server.on('listening', () => console.log(server.address().port));
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
