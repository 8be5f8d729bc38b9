// AppSync Events handlers of the `agent-presence` namespace (APPSYNC_JS runtime).
// Embedded verbatim as CodeHandlers in packaging/cloudformation/presence.yaml (re-embed with
// `python packaging/handlers/embed_handlers.py`). Kept in step with the devstack's Python handlers
// (presence_desktop/devstack/namespace_handlers.py) by one table of cases: packaging/handlers/cases.json.
// APPSYNC_JS is a subset of JS: only the syntax, globals and methods AWS lists are used (AWS AppSync
// Events, "Supported runtime features": docs/appsync-js-runtime.md; the allow-list in
// packaging/handlers/appsync_js_allowlist.json is checked by tests/packaging/test_handler_runtime.py).
import { util } from '@aws-appsync/utils';

// Who may watch which team (docs/teams.md; the Python twin asks Identity.may_watch in
// presence_desktop/domain/identity.py, and cases.json holds both to the same rule).
const AGENT_GROUP = 'support_agents';
const SUPERVISOR_GROUP = 'supervisors';
const MANAGER_GROUP = 'managers';
const TEAM_CLAIM = 'custom:team_id';
const SUPERVISES_CLAIM = 'custom:supervises';
const SOURCES = ['manual', 'idle', 'supervisor', 'system'];
const MESSAGE_MAX_CHARS = 140;
// Channel segment rule (AppSync Events channel namespaces doc): alphanumerics and '-', 1-50 chars,
// starting and ending alphanumeric. Spelled out because APPSYNC_JS has no regex literals.
const SEGMENT_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-';
const SEGMENT_MAX_CHARS = 50;

// Subscribe: a manager anything in the namespace; anyone else only channels of one team they may
// watch (/agent-presence/<team>/* or narrower): an agent its own custom:team_id, a supervisor the
// teams of custom:supervises. Every attempt gets one audit line (who, which channel, the
// decision), never a token (ctx.request.headers carry the Authorization header). Denials go to
// console.error, which the API's default log level (ERROR) records; allowed attempts to
// console.log, recorded only at level ALL (packaging/README.md, "Audit").
export function onSubscribe(ctx) {
  const identity = ctx.identity ?? null;
  const groups = listOf(identity?.groups);
  const claims = identity?.claims ?? {};
  const team = channelTeam(listOf(ctx.info?.channel?.segments));
  const allowed = identity !== null && mayWatch(groups, claims, team);
  const line = JSON.stringify({
    handler: 'agent-presence.onSubscribe',
    channel: ctx.info?.channel?.path ?? null,
    sub: identity?.sub ?? null,
    username: identity?.username ?? null,
    groups,
    team,
    allowed,
  });
  if (allowed) {
    console.log(line);
  } else {
    console.error(line);
  }
  if (!allowed) {
    util.unauthorized();
    return;
  }
}

// A JSON list as given, anything else (null, a string, an object) as an empty list.
function listOf(value) {
  return isList(value) ? value : [];
}

// The team segment of /agent-presence/<team>/..., or null (the namespace wildcard, no team).
function channelTeam(segments) {
  if (segments.length < 2 || !isSegment(segments[1])) {
    return null;
  }
  return segments[1];
}

function mayWatch(groups, claims, team) {
  if (groups.indexOf(MANAGER_GROUP) >= 0) {
    return true;
  }
  if (team === null) {
    return false;
  }
  if (groups.indexOf(AGENT_GROUP) >= 0 && isSegment(claims[TEAM_CLAIM]) && claims[TEAM_CLAIM] === team) {
    return true;
  }
  return groups.indexOf(SUPERVISOR_GROUP) >= 0 && supervisedTeams(claims[SUPERVISES_CLAIM]).indexOf(team) >= 0;
}

// custom:supervises ("team-1,team-7") -> the items that are channel segments; others are dropped.
function supervisedTeams(value) {
  if (typeof value !== 'string') {
    return [];
  }
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => isSegment(item));
}

// Publish: every event must be a presence event (schema 1) about the agent whose channel it is
// published on (/agent-presence/<team_id>/<agent_id>). An event that fails keeps its id and gets
// `error`: AppSync does not broadcast it, and the other events of the batch still go out.
export function onPublish(ctx) {
  const segments = ctx.info?.channel?.segments ?? [];
  return ctx.events.map((event) => {
    const problem = presenceProblem(event.payload, segments);
    if (problem) {
      return { id: event.id, error: problem };
    }
    return { id: event.id, payload: event.payload };
  });
}

// Array.isArray is not in the runtime's list: a JSON array is an object with a numeric length that
// Object.keys does not name (a JSON object with a "length" member names it).
function isList(value) {
  if (value === null || typeof value !== 'object' || typeof value.length !== 'number') {
    return false;
  }
  return !Object.keys(value).some((key) => key === 'length');
}

// includes (String or Array) and for-of over a string are not in the runtime's list: split('') gives
// the UTF-16 units, and indexOf finds each in the alphabet.
function isSegment(value) {
  if (typeof value !== 'string' || value.length === 0 || value.length > SEGMENT_MAX_CHARS) {
    return false;
  }
  if (value.startsWith('-') || value.endsWith('-')) {
    return false;
  }
  return value.split('').every((unit) => SEGMENT_CHARS.indexOf(unit) !== -1);
}

// Characters as Python counts them (code points), not UTF-16 units, so both handlers agree: a unit
// counts unless it is the low half of a surrogate pair (a lone surrogate counts, as in Python).
function charCount(text) {
  const units = text.split('');
  return units.filter((unit, index) => !(isLowSurrogate(unit) && index > 0 && isHighSurrogate(units[index - 1])))
    .length;
}

function isHighSurrogate(unit) {
  return unit >= '\uD800' && unit <= '\uDBFF';
}

function isLowSurrogate(unit) {
  return unit >= '\uDC00' && unit <= '\uDFFF';
}

// Number.isInteger is not in the runtime's list: a finite whole number leaves no remainder by 1
// (NaN and Infinity leave NaN).
function isWholeNumber(value) {
  return typeof value === 'number' && value % 1 === 0;
}

// Returns null for a valid presence event, else a message that names the offending field.
function presenceProblem(payload, segments) {
  if (payload === null || typeof payload !== 'object' || isList(payload)) {
    return 'payload: must be a JSON object';
  }
  if (payload.kind !== 'presence') {
    return 'kind: must be "presence"';
  }
  if (payload.schema !== 1) {
    return 'schema: must be 1';
  }
  if (!isSegment(payload.team_id)) {
    return 'team_id: must be 1-50 alphanumerics or "-", starting and ending alphanumeric';
  }
  if (!isSegment(payload.agent_id)) {
    return 'agent_id: must be 1-50 alphanumerics or "-", starting and ending alphanumeric';
  }
  if (
    segments.length !== 3 ||
    segments[1] !== payload.team_id ||
    segments[2] !== payload.agent_id
  ) {
    return 'channel: must be /agent-presence/<team_id>/<agent_id> of this event';
  }
  if (typeof payload.status !== 'string' || payload.status.length === 0) {
    return 'status: must be a non-empty string';
  }
  if (!isWholeNumber(payload.version) || payload.version < 1) {
    return 'version: must be a whole number >= 1';
  }
  if (typeof payload.changed_at !== 'string' || payload.changed_at.length === 0) {
    return 'changed_at: must be a non-empty string';
  }
  // Optional (docs/presence-event.md): when the status began; an older relay leaves it out.
  const since = payload.status_since ?? null;
  if (since !== null && (typeof since !== 'string' || since.length === 0)) {
    return 'status_since: must be null or a non-empty string';
  }
  if (SOURCES.indexOf(payload.source) === -1) {
    return 'source: must be one of manual, idle, supervisor, system';
  }
  const message = payload.message ?? null;
  if (message !== null && (typeof message !== 'string' || charCount(message) > MESSAGE_MAX_CHARS)) {
    return 'message: must be null or a string of at most 140 characters';
  }
  return null;
}
