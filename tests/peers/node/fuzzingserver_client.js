// node ws as the client under test of Autobahn's fuzzingserver.
//
// Usage: node fuzzingserver_client.js SERVER_URL AGENT [FIRST-LAST]
//
// Speaks the fuzzingserver URL protocol the way library drivers do: asks
// /getCaseCount (unless FIRST-LAST hard-codes the case numbers, as drivers
// do: 7.1.1 is 210 in the full catalogue), runs /runCase for each number one
// at a time, echoing every message with its type (ws answers pings and the
// server's close), then asks /updateReports. ws's defaults stand: it offers
// permessage-deflate and accepts messages up to 100 MiB. Exits 0 once the
// reports are written, whatever the verdicts.
'use strict';

const WebSocket = require('ws');

function control(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let text = '';
    ws.on('message', (data) => { text = data.toString(); });
    ws.on('close', () => resolve(text));
    ws.on('error', reject);
  });
}

function runCase(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    // Failing the connection is how a client answers many cases; judging it
    // is the server's job, so an error only ends the case.
    ws.on('error', () => {});
    ws.on('close', resolve);
  });
}

async function main() {
  const [base, agent, range] = process.argv.slice(2).map((a, i) => (i === 0 ? a.replace(/\/+$/, '') : a));
  if (!base || !agent) {
    console.error('usage: node fuzzingserver_client.js SERVER_URL AGENT [FIRST-LAST]');
    process.exit(2);
  }
  let first = 1;
  let last;
  if (range) {
    const [a, b] = range.split('-');
    first = Number(a);
    last = Number(b === undefined ? a : b);
  } else {
    last = Number(await control(`${base}/getCaseCount`));
  }
  for (let n = first; n <= last; n++) {
    await runCase(`${base}/runCase?case=${n}&agent=${encodeURIComponent(agent)}`);
  }
  await control(`${base}/updateReports?agent=${encodeURIComponent(agent)}`);
}

main().catch((err) => {
  console.error(`fuzzingserver_client.js: ${err.message}`);
  process.exit(1);
});
