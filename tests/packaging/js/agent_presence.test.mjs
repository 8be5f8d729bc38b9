// Unit tests of packaging/handlers/agent_presence.js (the AppSync Events handlers of the
// agent-presence namespace), driven by packaging/handlers/cases.json, the table the devstack's
// Python handlers are tested against too. Run: node --import ./register.mjs --test agent_presence.test.mjs
// (tests/packaging/test_handlers_node.py does this from pytest).
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { onPublish, onSubscribe } from '../../../packaging/handlers/agent_presence.js';
import { UnauthorizedError } from '@aws-appsync/utils';

const HANDLER_URL = new URL('../../../packaging/handlers/agent_presence.js', import.meta.url);
const CASES = JSON.parse(readFileSync(new URL('../../../packaging/handlers/cases.json', import.meta.url), 'utf8'));
// A token-looking header: it must never reach a log line.
const FAKE_TOKEN = 'eyJraWQiOiJmYWtlIn0.eyJzdWIiOiJzZWNyZXQtdG9rZW4tbWFya2VyIn0.c2lnbmF0dXJl';

function expand(value) {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, '$repeat')) {
    const [text, times] = value.$repeat;
    return text.repeat(times);
  }
  return value;
}

function payloadOf(event) {
  if (Object.hasOwn(event, 'payload')) {
    return event.payload;
  }
  const payload = structuredClone(CASES.base_payload);
  for (const [key, value] of Object.entries(event.patch ?? {})) {
    payload[key] = expand(value);
  }
  for (const key of event.drop ?? []) {
    delete payload[key];
  }
  return payload;
}

function ctxFor(kase, operation) {
  return {
    identity: kase.identity,
    info: {
      channel: { path: kase.channel, segments: kase.channel.split('/').filter((s) => s.length > 0) },
      channelNamespace: { name: CASES.namespace },
      operation,
    },
    request: { headers: { authorization: FAKE_TOKEN, host: 'example.appsync-api.us-east-1.amazonaws.com' } },
    events: operation === 'PUBLISH' ? kase.events.map((e) => ({ id: e.id, payload: payloadOf(e) })) : null,
    stash: {},
  };
}

// Audit lines: console.log (allowed) is recorded only at log level ALL, console.error (denied) at
// the template's default level ERROR too (packaging/README.md, "Audit").
function runSubscribe(ctx) {
  const log = mock.method(console, 'log', () => {});
  const error = mock.method(console, 'error', () => {});
  const lines = () => ({
    logLines: log.mock.calls.map((c) => c.arguments.join(' ')),
    errorLines: error.mock.calls.map((c) => c.arguments.join(' ')),
  });
  try {
    onSubscribe(ctx);
    return { decision: 'allow', ...lines() };
  } catch (err) {
    if (err instanceof UnauthorizedError) {
      return { decision: 'deny', ...lines() };
    }
    throw err;
  } finally {
    log.mock.restore();
    error.mock.restore();
  }
}

for (const kase of CASES.subscribe) {
  test(`subscribe: ${kase.name}`, () => {
    const { decision, logLines, errorLines } = runSubscribe(ctxFor(kase, 'SUBSCRIBE'));
    assert.equal(decision, kase.expect);
    // One audit line per attempt (a denial on console.error), with the channel and the decision, and no token.
    const lines = decision === 'deny' ? errorLines : logLines;
    assert.equal(lines.length, 1);
    assert.equal(logLines.length + errorLines.length, 1);
    const logged = JSON.parse(lines[0]);
    assert.equal(logged.channel, kase.channel);
    assert.equal(logged.allowed, kase.expect === 'allow');
    assert.equal(logged.username, kase.identity?.username ?? null);
    assert.ok(!lines[0].includes(FAKE_TOKEN), 'a token reached the log');
  });
}

for (const kase of CASES.publish) {
  test(`publish: ${kase.name}`, () => {
    const ctx = ctxFor(kase, 'PUBLISH');
    const sent = structuredClone(ctx.events);
    const out = onPublish(ctx);
    assert.ok(Array.isArray(out), 'onPublish returns a list');
    const ids = kase.events.map((e) => e.id);
    assert.deepEqual(out.map((e) => e.id), ids, 'one output per event, same ids, same order');
    const passed = out.filter((e) => !Object.hasOwn(e, 'error')).map((e) => e.id);
    assert.deepEqual(passed, kase.expect.pass);
    for (const item of out) {
      const expected = sent.find((e) => e.id === item.id);
      if (Object.hasOwn(item, 'error')) {
        assert.ok(Object.hasOwn(kase.expect.fail, item.id), `${item.id} refused: ${item.error}`);
        assert.equal(typeof item.error, 'string');
        assert.ok(!Object.hasOwn(item, 'payload'), 'a refused event carries no payload');
        const field = kase.expect.fail[item.id];
        if (field !== null) {
          assert.match(item.error, new RegExp(`\\b${field}\\b`), `error names ${field}: ${item.error}`);
        }
      } else {
        assert.deepEqual(item.payload, expected.payload, 'a passed event is broadcast unchanged');
      }
    }
  });
}

test('the case table covers allow, deny, pass and fail', () => {
  const decisions = new Set(CASES.subscribe.map((k) => k.expect));
  assert.deepEqual([...decisions].sort(), ['allow', 'deny']);
  assert.ok(CASES.publish.some((k) => k.expect.pass.length > 0));
  assert.ok(CASES.publish.some((k) => Object.keys(k.expect.fail).length > 0));
  for (const kase of CASES.publish) {
    const ids = kase.events.map((e) => e.id).sort();
    const listed = [...kase.expect.pass, ...Object.keys(kase.expect.fail)].sort();
    assert.deepEqual(listed, ids, `${kase.name}: every id is in pass or fail`);
  }
});

// A guard, not a parser: APPSYNC_JS refuses these constructs at deploy time (AWS AppSync Events,
// "Supported runtime features"), so catch them here first. Comments and strings are removed first.
test('handler code stays inside the APPSYNC_JS subset', () => {
  const source = readFileSync(HANDLER_URL, 'utf8')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''");
  const forbidden = [
    [/\btry\s*\{/, 'try'],
    [/\bcatch\s*\(/, 'catch'],
    [/\bfinally\b/, 'finally'],
    [/\bthrow\b/, 'throw'],
    [/\bwhile\s*\(/, 'while'],
    [/\bdo\s*\{/, 'do-while'],
    [/\bcontinue\b/, 'continue'],
    [/\+\+|--(?!\])/, '++ / --'],
    [/\bfor\s*\((?![^)]*\b(of|in)\b)/, 'classic for loop'],
    [/\bclass\s/, 'class'],
    [/\basync\b|\bawait\b/, 'async/await'],
  ];
  for (const [pattern, what] of forbidden) {
    assert.ok(!pattern.test(source), `APPSYNC_JS does not support ${what}`);
  }
  assert.ok(readFileSync(HANDLER_URL, 'utf8').length <= 32768, 'CodeHandlers holds at most 32768 characters');
});
