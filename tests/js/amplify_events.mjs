// Amplify JS v6 `events` API (AWS's own AppSync Events client) against the local events server,
// on namespace `default` with an API key. Driven by tests/devstack/test_amplify_events.py.
//
// Input, environment: EVENTS_HTTP ("https://127.0.0.1:P/event"), EVENTS_REGION, EVENTS_API_KEY,
// EVENTS_CHANNEL ("/default/amplify"), NODE_EXTRA_CA_CERTS (the local CA, PEM).
// Steps: connect; subscribe; wait for an event the caller publishes over raw HTTP once it sees
// the subscription; publish over HTTP with events.post and receive it; publish over the
// WebSocket with channel.publish and receive it; unsubscribe; close.
// Output, JSON lines on stdout:
//   {"stage": "subscribing"}                                   (then the caller publishes)
//   {"stage": "done", "received": [<event>...], "postFailed": <list|null>, "publishResult": ...}
//   {"stage": "error", "name", "message"}
import WebSocket from "ws";
import { Amplify } from "aws-amplify";
import { events } from "aws-amplify/data";

globalThis.WebSocket ??= WebSocket; // Node 20 has no global WebSocket

const emit = (obj) => console.log(JSON.stringify(obj));
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const received = [];
const waiters = [];
function onEvent(event) {
  received.push(event);
  for (const w of [...waiters]) {
    if (w.predicate(event)) {
      waiters.splice(waiters.indexOf(w), 1);
      clearTimeout(w.timer);
      w.resolve(event);
    }
  }
}
function waitFor(what, predicate, ms) {
  const seen = received.find(predicate);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    waiters.push({ predicate, resolve, timer });
  });
}

try {
  const channelName = env("EVENTS_CHANNEL");
  Amplify.configure({
    API: {
      Events: {
        endpoint: env("EVENTS_HTTP"),
        region: env("EVENTS_REGION"),
        defaultAuthMode: "apiKey",
        apiKey: env("EVENTS_API_KEY"),
      },
    },
  });
  const channel = await events.connect(channelName);
  let subscriptionError = null;
  const subscription = channel.subscribe({
    next: (data) => onEvent(data && typeof data === "object" && "event" in data ? data.event : data),
    error: (err) => {
      subscriptionError = err;
      emit({ stage: "error", name: err?.name ?? "Error", message: String(err?.message ?? err) });
    },
  });
  emit({ stage: "subscribing" });
  await waitFor("the caller's HTTP event", (e) => e?.from === "pytest-http", 30000);

  const postFailed = await events.post(channelName, { from: "amplify-post", text: "über <ok>" });
  await waitFor("the events.post event", (e) => e?.from === "amplify-post", 15000);

  const publishResult = await channel.publish({ from: "amplify-ws", n: 3 });
  await waitFor("the channel.publish event", (e) => e?.from === "amplify-ws", 15000);

  subscription.unsubscribe();
  await new Promise((r) => setTimeout(r, 500)); // let the unsubscribe frame go out
  channel.close();
  if (subscriptionError) throw subscriptionError;
  emit({ stage: "done", received, postFailed: postFailed ?? null, publishResult: publishResult ?? null });
  setTimeout(() => process.exit(0), 100);
} catch (err) {
  emit({ stage: "error", name: err?.name ?? "Error", message: String(err?.message ?? err) });
  process.exit(1);
}
