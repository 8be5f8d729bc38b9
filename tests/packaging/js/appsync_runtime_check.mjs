// Checks APPSYNC_JS handler code against an allow-list of runtime features
// (packaging/handlers/appsync_js_allowlist.json, taken from AWS's "Supported runtime features" page;
// docs/appsync-js-runtime.md). Parses with espree (ESLint's parser) and walks every node.
//   node appsync_runtime_check.mjs <file.js> [allowlist.json]
// Prints {"violations": [...], "unconfirmed": [...]} as JSON; exit 1 when there are violations.
// Receivers are typed by a small inference (string/array literals bound to const, ctx.events, the
// results of split/map/filter); a method called on an unknown receiver must be allowed on every
// built-in type that has it, so `x.includes(...)` on an unknown x needs String.prototype.includes too.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(new URL('../../js/package.json', import.meta.url));
const espree = require('espree');

const ARRAY_RETURNING = new Set(['split', 'map', 'filter', 'concat', 'slice']);
const BUILTIN_PROTOTYPES = { String: String.prototype, Array: Array.prototype };

export function check(source, allow) {
  const ast = espree.parse(source, { ecmaVersion: 'latest', sourceType: 'module', loc: true });
  const violations = [];
  const unconfirmed = new Set();
  const declared = new Set();
  const constTypes = new Map();
  const functions = new Set();
  const globals = allow.globals;
  const at = (node) => `line ${node.loc.start.line}`;

  const use = (flag, what, node) => {
    if (flag === undefined) {
      violations.push(`${what} (${at(node)}) is not in the allow-list`);
    } else if (flag === false) {
      unconfirmed.add(what);
    }
  };

  // Pass 1: names the module declares (any scope) and the type of const literals.
  walk(ast, (node) => {
    if (node.type === 'VariableDeclarator' && node.id.type === 'Identifier') {
      declared.add(node.id.name);
      const t = literalType(node.init);
      if (t && node.parent?.kind === 'const') constTypes.set(node.id.name, t);
    } else if (node.type === 'FunctionDeclaration' && node.id) {
      declared.add(node.id.name);
      functions.add(node.id.name);
    } else if (node.type === 'ImportSpecifier') {
      declared.add(node.local.name);
    }
    if (node.type === 'FunctionDeclaration' || node.type === 'ArrowFunctionExpression') {
      for (const param of node.params) collectNames(param, declared);
    }
  });

  const typeOf = (node) => {
    const lit = literalType(node);
    if (lit) return lit;
    if (node.type === 'Identifier') return constTypes.get(node.name) ?? null;
    if (node.type === 'MemberExpression' && !node.computed && node.property.name === 'events'
        && node.object.type === 'Identifier' && node.object.name === 'ctx') return 'Array';
    if (node.type === 'CallExpression' && node.callee.type === 'MemberExpression' && !node.callee.computed
        && ARRAY_RETURNING.has(node.callee.property.name)) return 'Array';
    if (node.type === 'ChainExpression') return typeOf(node.expression);
    return null;
  };

  walk(ast, (node, parent) => {
    use(allow.syntax[node.type], `syntax ${node.type}`, node);
    switch (node.type) {
      case 'Literal':
        if (node.regex) violations.push(`regular expression literal (${at(node)}) is not supported`);
        break;
      case 'VariableDeclaration':
        if (!allow.variable_kinds.includes(node.kind)) violations.push(`${node.kind} (${at(node)})`);
        break;
      case 'FunctionDeclaration':
      case 'ArrowFunctionExpression':
        if (node.async || node.generator) violations.push(`async/generator function (${at(node)})`);
        break;
      case 'UnaryExpression':
        use(allow.operators.unary[node.operator], `operator ${node.operator}`, node);
        break;
      case 'BinaryExpression':
        use(allow.operators.binary[node.operator], `operator ${node.operator}`, node);
        break;
      case 'LogicalExpression':
        use(allow.operators.logical[node.operator], `operator ${node.operator}`, node);
        break;
      case 'AssignmentExpression':
        use(allow.operators.assignment[node.operator], `operator ${node.operator}`, node);
        break;
      case 'CallExpression':
        checkCall(node);
        break;
      case 'ForOfStatement': {
        const t = typeOf(node.right);
        if (t !== 'Array') violations.push(`for-of over ${t ?? 'a value not known to be an array'} (${at(node)})`);
        break;
      }
      case 'ImportDeclaration': {
        const module = allow.modules[node.source.value];
        if (!module) {
          violations.push(`import from ${node.source.value} (${at(node)}) is not in the allow-list`);
          break;
        }
        for (const spec of node.specifiers) use(module[spec.imported?.name], `import ${spec.imported?.name}`, spec);
        break;
      }
      case 'Identifier':
        if (isReference(node, parent) && !declared.has(node.name)) {
          use(globals[node.name], `global ${node.name}`, node);
        }
        break;
      case 'MemberExpression':
        checkMember(node);
        break;
      default:
        break;
    }
  });

  // The page: "Passing a function as an argument is not supported" and "Recursive function calls
  // are not supported"; AWS's eslint plugin lets the Array callback methods take one.
  function checkCall(node) {
    const passesFunction = node.arguments.some((arg) => arg.type === 'ArrowFunctionExpression'
      || arg.type === 'FunctionExpression' || (arg.type === 'Identifier' && functions.has(arg.name)));
    if (passesFunction) {
      const callee = node.callee;
      const method = callee.type === 'MemberExpression' && !callee.computed ? callee.property.name : null;
      if (!method || !allow.callback_methods.includes(method)) {
        violations.push(`a function passed as an argument to ${method ?? 'a function'} (${at(node)})`);
      }
    }
    if (node.callee.type === 'Identifier') {
      const inside = enclosingFunctionName(node);
      if (inside && inside === node.callee.name) violations.push(`recursive call of ${inside} (${at(node)})`);
    }
  }

  function checkMember(node) {
    if (node.computed) return; // obj[key]: indexing, no named member
    const name = node.property.name;
    const obj = node.object;
    if (obj.type === 'Identifier' && !declared.has(obj.name)) {
      use(allow.static[`${obj.name}.${name}`], `${obj.name}.${name}`, node);
      return;
    }
    if (obj.type === 'Identifier' && obj.name === 'util') {
      use(allow.member_calls[`util.${name}`], `util.${name}`, node);
      return;
    }
    const t = typeOf(obj);
    if (t) {
      use(allow.prototype[t][name], `${t}.prototype.${name}`, node);
      return;
    }
    // Unknown receiver: a data field (identity.sub) unless it is called, or is `length`, and a
    // built-in type has a member of that name.
    const called = node.parent?.type === 'CallExpression' && node.parent.callee === node;
    if (!called && name !== 'length') return;
    for (const [typeName, proto] of Object.entries(BUILTIN_PROTOTYPES)) {
      if (name in proto) use(allow.prototype[typeName][name], `${typeName}.prototype.${name}`, node);
    }
  }

  return { violations, unconfirmed: [...unconfirmed].sort() };
}

function enclosingFunctionName(node) {
  for (let at = node.parent; at; at = at.parent) {
    if (at.type === 'FunctionDeclaration') return at.id?.name ?? null;
  }
  return null;
}

function literalType(node) {
  if (!node) return null;
  if (node.type === 'Literal' && typeof node.value === 'string') return 'String';
  if (node.type === 'TemplateLiteral') return 'String';
  if (node.type === 'ArrayExpression') return 'Array';
  return null;
}

function collectNames(pattern, into) {
  if (!pattern) return;
  if (pattern.type === 'Identifier') into.add(pattern.name);
  else if (pattern.type === 'RestElement') collectNames(pattern.argument, into);
  else if (pattern.type === 'AssignmentPattern') collectNames(pattern.left, into);
  else if (pattern.type === 'ObjectPattern') for (const p of pattern.properties) collectNames(p.value ?? p.argument, into);
  else if (pattern.type === 'ArrayPattern') for (const e of pattern.elements) collectNames(e, into);
}

function isReference(node, parent) {
  if (!parent) return true;
  if (parent.type === 'MemberExpression' && parent.property === node && !parent.computed) return false;
  if (parent.type === 'Property' && parent.key === node && !parent.computed) return parent.shorthand;
  if ((parent.type === 'ImportSpecifier') || (parent.type === 'ExportSpecifier')) return false;
  return true;
}

function walk(node, visit, parent = null) {
  if (!node || typeof node.type !== 'string') return;
  node.parent = parent;
  visit(node, parent);
  for (const key of Object.keys(node)) {
    if (key === 'parent' || key === 'loc' || key === 'range') continue;
    const value = node[key];
    if (Array.isArray(value)) {
      for (const child of value) if (child && typeof child.type === 'string') walk(child, visit, node);
    } else if (value && typeof value.type === 'string') {
      walk(value, visit, node);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, allowPath] = process.argv.slice(2);
  const allowFile = allowPath ?? new URL('../../../packaging/handlers/appsync_js_allowlist.json', import.meta.url);
  const allow = JSON.parse(readFileSync(allowFile, 'utf8'));
  const result = check(readFileSync(file, 'utf8'), allow);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(result.violations.length > 0 ? 1 : 0);
}
