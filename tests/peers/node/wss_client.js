// A node ws client for wstap's TLS and forward-proxy tests.
//
//   node wss_client.js URL [--ca FILE] [--proxy http://HOST:PORT] [--text TEXT]
//
// Connects to URL (ws:// or wss://), trusting only FILE for wss when --ca
// is given; through an HTTP proxy when --proxy is given (CONNECT for wss
// via https-proxy-agent, an absolute-URI GET for ws via http-proxy-agent,
// the way node users configure a proxy for ws). Sends TEXT, expects it
// echoed, closes with 1000, and prints "OK <echo>"; any failure prints
// "FAIL <why>" and exits 1.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');
const { HttpsProxyAgent } = require('https-proxy-agent');
const { HttpProxyAgent } = require('http-proxy-agent');

const args = process.argv.slice(2);
const url = args.shift();
const opt = {};
while (args.length) {
  const flag = args.shift();
  opt[flag.replace(/^--/, '')] = args.shift();
}
const text = opt.text || `hello from node ws to ${url}`;
const options = {};
if (opt.ca) options.ca = fs.readFileSync(opt.ca);
if (opt.proxy) {
  const agentOptions = opt.ca ? { ca: options.ca } : {};
  options.agent = url.startsWith('wss:') ? new HttpsProxyAgent(opt.proxy, agentOptions) : new HttpProxyAgent(opt.proxy);
}

const fail = (why) => {
  console.log(`FAIL ${why}`);
  process.exit(1);
};
const timer = setTimeout(() => fail('timed out after 10 s'), 10000);
const ws = new WebSocket(url, options);
ws.on('open', () => ws.send(text));
ws.on('message', (data) => {
  const got = data.toString();
  if (got !== text) fail(`echo differs: ${JSON.stringify(got)}`);
  ws.close(1000, 'done');
});
ws.on('close', (code) => {
  clearTimeout(timer);
  if (code !== 1000) fail(`closed with ${code}`);
  console.log(`OK ${text}`);
});
ws.on('error', (e) => fail(e.message));
