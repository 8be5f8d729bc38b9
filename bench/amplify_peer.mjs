// The peer: AWS's own AppSync Events client (Amplify JS v6 `events`, from tests/js/node_modules)
// subscribed to /agent-presence/* on the bench events server with the API key. Stamps every
// event with process.hrtime (CLOCK_MONOTONIC, as Python's time.monotonic_ns) in microseconds.
//
// Env: BENCH_READY (the server's ready file), BENCH_JS_DIR (tests/js), NODE_EXTRA_CA_CERTS (the
// local CA). stdin: JSON lines {"cmd":"dump"} -> {"receiver":"amplify","phases":{...},
// "states":[...]} ; {"cmd":"quit"}. stdout: {"receiver":"amplify","ready":true} once subscribed.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";

const require = createRequire(path.join(process.env.BENCH_JS_DIR, "package.json"));
const WebSocket = require("ws");
globalThis.WebSocket ??= WebSocket; // node 20 has no global WebSocket
const { Amplify } = require("aws-amplify");
const { events } = require("aws-amplify/data");
const { Hub } = require("aws-amplify/utils");

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const ready = JSON.parse(readFileSync(process.env.BENCH_READY, "utf8"));

const phases = {};
const states = [];
function record(phase, sent, at) {
  let ph = phases[phase];
  if (!ph) ph = phases[phase] = { lat_us: [], first_us: at, last_us: at, count: 0 };
  ph.lat_us.push(at - sent);
  ph.last_us = at;
  ph.count += 1;
}

Hub.listen("api", (data) => {
  const p = data?.payload;
  if (p?.event === "ConnectionStateChange") states.push({ state: p.data?.connectionState, at_us: nowUs() });
});

Amplify.configure({
  API: { Events: { endpoint: ready.http, region: "us-east-1", defaultAuthMode: "apiKey", apiKey: ready.api_key } },
});

let announced = false;
const channel = await events.connect("/agent-presence/*");
channel.subscribe({
  next: (data) => {
    const at = nowUs();
    const ev = data && typeof data === "object" && "event" in data ? data.event : data;
    if (ev && ev.bench_phase !== undefined) record(ev.bench_phase, ev.bench_ts, at);
  },
  error: (err) => emit({ receiver: "amplify", error: String(err?.message ?? err) }),
});
// Amplify resolves subscribe() before subscribe_success; wait for the Connected state.
const waitConnected = setInterval(() => {
  if (!announced && states.some((s) => s.state === "Connected")) {
    announced = true;
    clearInterval(waitConnected);
    emit({ receiver: "amplify", ready: true });
  }
}, 20);

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch { return; }
  if (cmd.cmd === "dump") emit({ receiver: "amplify", phases, states });
  if (cmd.cmd === "quit") process.exit(0);
});
rl.on("close", () => process.exit(0));
