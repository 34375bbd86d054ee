// ESLint (flat config): the style the code already follows, and rules that
// keep the layout honest (docs/architecture.md, "Source layout"):
// - no import cycles;
// - nothing under src/ imports test/ (the lab that tests and the demo share
//   lives in src/lab);
// - a module is entered through its index.ts: no deep imports into another
//   module's files.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import importX from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'

const modules = ['agent', 'bus', 'cli', 'client', 'core', 'demo', 'lab', 'placement', 'registry', 'renderer', 'up']

// One zone per module: files outside it may import only its index.ts.
const deepImportZones = modules.map((m) => ({
  target: `./src/!(${m})/**/*`,
  from: `./src/${m}`,
  except: ['./index.ts'],
  message: `import src/${m} through its index.ts (its public surface), not its files`,
}))

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    plugins: { 'import-x': importX },
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', performance: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly' },
    },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Resolves our `./x.js` specifiers to the `./x.ts` files (NodeNext style).
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      eqeqeq: ['error', 'smart'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-throw-literal': 'error',
      // The code initialises before a try that may fail (`let x = []; try { x = read() } catch {}`) on purpose.
      'no-useless-assignment': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/test/**', '../../test/*', '../test/*'], message: 'src/ never imports test/: move what both need into src/ (e.g. src/lab)' }] }],
      'import-x/no-restricted-paths': ['error', { zones: [{ target: './src', from: './test', message: 'src/ never imports test/' }, ...deepImportZones] }],
      'no-console': 'error',
    },
  },
)
