/**
 * The one way tests build the webhook's express app: every dependency explicit, each defaulting to the
 * quietest real thing (no cluster, a fresh metrics registry, a silent logger, the fixed seal key and
 * clock of test/support/seal.ts), and any of them replaced by the test that cares about it.
 */
import type { Express } from 'express';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/config/index.js';
import { DEFAULT_ENGINE_SETTINGS, LOOKUPS_OFF } from '../../src/engine/index.js';
import { buildApp, type AppDeps } from '../../src/http/app.js';
import { createSilentLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics/index.js';
import { TEST_SEALER, testNow } from './seal.js';

export function testAppDeps(overrides: Partial<AppDeps> = {}): AppDeps {
  return {
    settings: DEFAULT_ENGINE_SETTINGS,
    namespaces: LOOKUPS_OFF,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: createSilentLogger(),
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    isShuttingDown: () => false,
    sealer: TEST_SEALER,
    now: testNow,
    ...overrides,
  };
}

export function testApp(overrides: Partial<AppDeps> = {}): Express {
  return buildApp(testAppDeps(overrides));
}
