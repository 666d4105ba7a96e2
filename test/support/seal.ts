/**
 * A fixed seal key and clock for tests whose expected output includes the seal of our changes record
 * (golden fixtures), so the files stay byte-for-byte stable.
 */
import { createRecordSealer, type RecordSealer } from '../../src/engine/record/seal.js';

const KEY = Buffer.alloc(32, 7);
export const TEST_SEALER: RecordSealer = createRecordSealer(() => ({ signing: KEY, accepted: [KEY] }));
/** 2026-01-01T00:00:00Z */
export const TEST_NOW_MS = Date.UTC(2026, 0, 1);
export const testNow = (): number => TEST_NOW_MS;
