// Amplify JS v6, AWS's own client, against the local stack: it signs in to the Cognito user pool
// endpoint with its own SRP implementation and, if asked, subscribes to an AppSync Events channel
// with the user's token (auth mode userPool). Driven by tests/auth/test_amplify.py.
//
// Input, one JSON object on stdin:
//   {"userPoolId", "clientId", "endpoint", "username", "password",
//    "events"?: {"endpoint": "https://127.0.0.1:P/event", "region", "channel": "/agent-presence/*",
//                "timeoutMs"?, "token"?: "id" | "access"}}
// "token": which Cognito token authorizes the WebSocket: "access" is Amplify's default for the
// userPool mode; "id" passes the id token as authToken (the one with the team attributes the
// agent-presence namespace authorizes on, docs/teams.md).
// Output, JSON lines on stdout:
//   {"stage": "signed_in", "isSignedIn", "nextStep", "idToken", "accessToken", "groups", "username"}
//   {"stage": "subscribing"}                  (then the caller publishes)
//   {"stage": "event", "data": <event>}       (first event received)
//   {"stage": "error", "name", "message"}     (sign-in or subscription failed)
// Trust for the local CA comes from NODE_EXTRA_CA_CERTS (set by the caller).
import WebSocket from "ws";
import { Amplify } from "aws-amplify";
import { signIn, fetchAuthSession } from "aws-amplify/auth";

globalThis.WebSocket ??= WebSocket; // Node 20 has no global WebSocket

const emit = (obj) => console.log(JSON.stringify(obj));

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const input = await readStdin();
const config = {
  Auth: { Cognito: { userPoolId: input.userPoolId, userPoolClientId: input.clientId, userPoolEndpoint: input.endpoint } },
};
if (input.events) {
  config.API = { Events: { endpoint: input.events.endpoint, region: input.events.region, defaultAuthMode: "userPool" } };
}
Amplify.configure(config);

try {
  const res = await signIn({ username: input.username, password: input.password });
  const out = { stage: "signed_in", isSignedIn: res.isSignedIn, nextStep: res.nextStep?.signInStep };
  if (res.isSignedIn) {
    const session = await fetchAuthSession();
    const id = session.tokens?.idToken;
    out.idToken = id?.toString();
    out.accessToken = session.tokens?.accessToken?.toString();
    out.groups = id?.payload?.["cognito:groups"] ?? [];
    out.username = id?.payload?.["cognito:username"];
  }
  emit(out);
  if (res.isSignedIn && input.events) {
    const { events } = await import("aws-amplify/data");
    const options = input.events.token === "id" ? { authMode: "userPool", authToken: out.idToken } : undefined;
    const channel = await events.connect(input.events.channel, options);
    const data = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no event received")), input.events.timeoutMs ?? 30000);
      channel.subscribe({
        next: (d) => { clearTimeout(timer); resolve(d); },
        error: (e) => { clearTimeout(timer); reject(e); },
      });
      emit({ stage: "subscribing" });
    });
    emit({ stage: "event", data });
    channel.close();
  }
} catch (err) {
  const errors = err?.errors ?? err?.error?.errors;
  emit({ stage: "error", name: err?.name, message: err?.message ?? String(err), errors });
}
process.exit(0);
