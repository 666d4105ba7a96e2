import { defaultResources } from './default-resources.js';
import { dropAllCapabilities } from './drop-all-capabilities.js';
import { noPrivilegeEscalation } from './no-privilege-escalation.js';
import { readOnlyRootFilesystem } from './read-only-root-filesystem.js';
import { runAsNonRoot } from './run-as-non-root.js';
import { seccompRuntimeDefault } from './seccomp-runtime-default.js';
import type { Control } from './types.js';

/**
 * The registered controls, in the order they run and appear in audit records. Order matters in one
 * place: no-privilege-escalation reads `capabilities.add`, which drop-all-capabilities never changes.
 */
export const CONTROLS: readonly Control[] = [
  runAsNonRoot,
  dropAllCapabilities,
  noPrivilegeEscalation,
  readOnlyRootFilesystem,
  seccompRuntimeDefault,
  defaultResources,
];
