/**
 * drop-all-capabilities
 *
 * Spec: every container's `securityContext.capabilities.drop` contains exactly `"ALL"`; it is appended
 * to an existing list. Pod Security compares case-sensitively, so a lowercase `"all"` does not count
 * (it stays, and `"ALL"` is added). Existing `add` entries are kept, because dropping ALL does not
 * remove them (Istio's init container needs NET_ADMIN and NET_RAW); anything beyond NET_BIND_SERVICE is
 * reported by the Pod Security check.
 *
 * Windows pods: skipped (the API forbids capabilities there).
 */
import type { Pod } from '../pod/model.js';
import { DraftRecorder, getPath } from './recorder.js';
import type { Control, ControlScope } from './types.js';

export const dropAllCapabilities: Control = {
  id: 'drop-all-capabilities',
  coversEphemeralContainers: true,
  linuxOnly: 'the API forbids capabilities',
  apply(_draft: Pod, scope: ControlScope) {
    const rec = new DraftRecorder('drop-all-capabilities');
    for (const ref of scope.targets) {
      const drop = getPath(ref.container, ['securityContext', 'capabilities', 'drop']);
      if (Array.isArray(drop) && drop.includes('ALL')) continue;
      rec.append(ref.container, ref.pointer, ['securityContext', 'capabilities', 'drop'], 'ALL', ref.name);
    }
    return rec.result();
  },
};
