// A node ws client that plays a fixed conversation, for wstap's HAR import tests.
//
//   node steps_client.js URL STEPS_FILE
//
// STEPS_FILE holds a JSON list of steps, taken in order:
//   {"send": TEXT} | {"send_b64": BASE64}        send a text / binary message
//   {"expect": TEXT} | {"expect_b64": BASE64}    the next message must be this
// Then closes with 1000 and waits for the server's close. Prints "OK <n>"
// (steps done) and exits 0; any mismatch, error or early close prints
// "FAIL <why>" and exits 1. ws's defaults stand (it offers permessage-deflate).
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const [url, stepsFile] = process.argv.slice(2);
const steps = JSON.parse(fs.readFileSync(stepsFile, 'utf8'));
const ws = new WebSocket(url);
const inbox = [];
let waiting = null;
let done = 0;

function fail(why) {
  console.log(`FAIL ${why}`);
  process.exit(1);
}

function next() {
  return new Promise((resolve) => {
    if (inbox.length) resolve(inbox.shift());
    else waiting = resolve;
  });
}

ws.on('message', (data, isBinary) => {
  const m = { binary: isBinary, data: Buffer.from(data) };
  if (waiting) {
    const w = waiting;
    waiting = null;
    w(m);
  } else inbox.push(m);
});
ws.on('error', (e) => fail(`error: ${e.message}`));
ws.on('close', (code) => {
  if (done < steps.length) fail(`closed (${code}) after ${done} of ${steps.length} steps`);
  console.log(`OK ${done} close ${code}`);
  process.exit(0);
});
ws.on('open', async () => {
  for (const step of steps) {
    if ('send' in step) ws.send(step.send);
    else if ('send_b64' in step) ws.send(Buffer.from(step.send_b64, 'base64'), { binary: true });
    else {
      const m = await next();
      const binary = 'expect_b64' in step;
      const want = binary ? Buffer.from(step.expect_b64, 'base64') : Buffer.from(step.expect);
      if (m.binary !== binary || !m.data.equals(want)) {
        fail(`step ${done}: got ${m.binary ? 'binary' : 'text'} ${m.data.toString('hex')}, want ${want.toString('hex')}`);
      }
    }
    done += 1;
  }
  ws.close(1000);
});
