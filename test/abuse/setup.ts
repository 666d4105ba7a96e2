/**
 * Root hooks of the abuse suite: check the build is there, and print every case's figures at the end,
 * passed or not.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { printSummary } from './support/report.js';
import { REPO_ROOT } from './support/server.js';

export const mochaHooks = {
  beforeAll(): void {
    if (!existsSync(path.join(REPO_ROOT, 'dist/cli.js')))
      throw new Error('dist/cli.js is missing: run `npm run build` first (npm run test:abuse does)');
  },
  afterAll(): void {
    printSummary();
  },
};
