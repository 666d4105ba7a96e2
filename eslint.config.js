import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // The client library's models are classes, but pods here are raw JSON typed structurally with them.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  // The engine stands alone (src/engine/index.ts): no I/O packages, nothing from outside its folder.
  // test/engine/boundary.test.ts checks the same on the compiled engine, and the direction of its layers.
  ...[
    { files: ['src/engine/*.ts'], outside: '^\\.\\./' },
    { files: ['src/engine/*/*.ts'], outside: '^(\\.\\./){2}' },
    { files: ['src/engine/*/*/*.ts'], outside: '^(\\.\\./){3}' },
  ].map(({ files, outside }) => ({
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...[
              'express',
              'winston',
              'prom-client',
              'fs',
              'node:fs',
              'fs/promises',
              'node:fs/promises',
              'net',
              'node:net',
            ].map((name) => ({ name, message: 'the engine does no I/O; do it in the webhook or the CLI' })),
            {
              name: '@kubernetes/client-node',
              allowTypeImports: true,
              message: "the engine may use the client library's API types, never its code",
            },
          ],
          patterns: [{ regex: outside, message: 'the engine imports nothing from outside src/engine/' }],
        },
      ],
    },
  })),
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
);
