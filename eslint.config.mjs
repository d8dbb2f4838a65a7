// Lint: ESLint's and typescript-eslint's recommended rules, type-aware where a rule needs types.
// Formatting is Prettier's job (.prettierrc.json); no stylistic rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'charts/**', 'test/fixtures/**', 'test/kstatus/**', 'test/injection/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Promises that nobody awaits lose their errors: the operator's loops must handle every rejection.
      // Types say what the operator reads of objects it did not write (api/live.ts): an 'any' would hide a misread field.
      // The few that must stay say why, in an eslint-disable comment beside them.
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // Regexes over YAML keep its indentation as written: `/^  name: /m` reads as the line it matches.
      'no-regex-spaces': 'off',
    },
  },
  {
    // Tests assert on JSON read back from the API server and from kubectl, whose shape is the assertion itself.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', structuredClone: 'readonly' } },
  },
);
