import type { ControlId } from '../controls/ids.js';
import type { ResourceDefaults } from '../controls/types.js';

export type { DefaultQuantity, ResourceDefaults } from '../controls/types.js';

export const MODES = ['enforce', 'warn', 'audit'] as const;
/**
 * enforce: patch the pod. warn: no patch, admission warnings list what would change.
 * audit: no patch, only logs, metrics and audit annotations.
 */
export type Mode = (typeof MODES)[number];

export function isMode(value: string): value is Mode {
  return (MODES as readonly string[]).includes(value);
}

/** The part of the configuration the hardening engine reads. Validated before it gets here. */
export interface EngineSettings {
  /** Prefix of every annotation and label key, without the trailing slash (default `pod-hardener.io`). */
  readonly annotationPrefix: string;
  /** Mode used when namespace lookups are off, or fail. */
  readonly defaultMode: Mode;
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly fsGroup: number;
  /** sizeLimit of every emptyDir the read-only-root-filesystem control adds. */
  readonly writableVolumeSizeLimit: string;
  readonly disabledControls: readonly ControlId[];
  readonly resources: ResourceDefaults;
}

export const DEFAULT_ENGINE_SETTINGS: EngineSettings = {
  annotationPrefix: 'pod-hardener.io',
  defaultMode: 'enforce',
  runAsUser: 65532,
  runAsGroup: 65532,
  fsGroup: 65532,
  writableVolumeSizeLimit: '256Mi',
  disabledControls: [],
  resources: {
    requests: { cpu: '100m', memory: '128Mi' },
    limits: { cpu: '500m', memory: '512Mi' },
  },
};
