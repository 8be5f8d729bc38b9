// ESLint (flat config) for the APPSYNC_JS handler code: AWS's own rules for what the APPSYNC_JS
// runtime accepts (@aws-appsync/eslint-plugin, "recommended", which needs type information).
// The packages live in tests/js/node_modules (tests/js/package.json); run with cwd = repo root:
//   tests/js/node_modules/.bin/eslint -c tests/packaging/js/eslint.config.mjs packaging/handlers/agent_presence.js
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../js/package.json', import.meta.url));
const appsync = require('@aws-appsync/eslint-plugin');
const recommended = appsync.configs.recommended;

export default [
  {
    files: ['packaging/handlers/**/*.js'],
    ...recommended,
    languageOptions: {
      ...recommended.languageOptions,
      sourceType: 'module',
      parserOptions: {
        project: './tsconfig.appsync.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
];
