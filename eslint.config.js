// npm run lint: typescript-eslint's recommended rules, with type information for the rule that
// matters most in a server (a promise nobody awaits loses its error: no-floating-promises).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'performance',
    'fetch',
    'AbortController',
    'TextDecoder',
    'TextEncoder',
    'SharedArrayBuffer',
    'WebAssembly',
    'structuredClone',
    'queueMicrotask',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/data/', 'src/kernels/assembly/', 'src/serve/page/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: nodeGlobals },
    rules: {
      // als matches control characters on purpose: to escape them before a name reaches a terminal
      'no-control-regex': 'off',
    },
  },
  {
    // tests match column-aligned output as printed, and hand functions values of the wrong type on purpose
    files: ['test/**/*.ts'],
    rules: { 'no-regex-spaces': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's describe/it return promises that the runner itself awaits
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
    },
  },
);
