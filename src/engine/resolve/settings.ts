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

/**
 * What the cluster admin says once about an image (configuration `imageProfiles`). Validated and
 * normalised before it gets here: globs well formed, UIDs and GIDs positive, paths absolute and
 * normalised, control ids known, quantities valid.
 */
export interface ImageProfile {
  /** Unique; named in the changes record, the log and the audit annotations. */
  readonly name: string;
  /** Globs over the image reference as written in the pod (see resolve/image-glob.ts). */
  readonly images: readonly string[];
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  /** The image must run as root: runAsNonRoot and the UID/GID defaults are left out for it. */
  readonly runAsRoot?: boolean;
  readonly writablePaths?: readonly string[];
  /** Capabilities added back after `drop: [ALL]`. */
  readonly keepCapabilities?: readonly string[];
  /** Controls that do not apply to containers of this image: an opt-out the admin made. */
  readonly skipControls?: readonly ControlId[];
  /** The least the image needs; a default below it is left out. */
  readonly resources?: {
    readonly requests?: { readonly cpu?: string; readonly memory?: string };
    readonly limits?: { readonly cpu?: string; readonly memory?: string };
  };
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
  /** In order: the first profile one of whose globs matches a container's image applies to it. */
  readonly imageProfiles: readonly ImageProfile[];
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
  imageProfiles: [],
};
