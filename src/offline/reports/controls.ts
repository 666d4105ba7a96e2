/** What each control does, in a sentence, for SARIF rules and PolicyReport results. */
import type { ControlId } from '../../engine/index.js';

export const CONTROL_DESCRIPTIONS: Readonly<Record<ControlId, string>> = {
  'run-as-non-root':
    'runAsNonRoot: true on every container; pod runAsUser, runAsGroup and fsGroup set to a non-root ID',
  'drop-all-capabilities': "ALL appended to every container's capabilities.drop",
  'no-privilege-escalation': 'allowPrivilegeEscalation: false on every container',
  'read-only-root-filesystem':
    'readOnlyRootFilesystem: true, with a writable emptyDir at /tmp and at each writable-paths entry',
  'seccomp-runtime-default': "the pod's seccompProfile set to RuntimeDefault",
  'default-resources': 'default cpu and memory requests and limits on every container',
};

export const HELP_URI = 'https://github.com/pod-hardener/pod-hardener#the-controls';
