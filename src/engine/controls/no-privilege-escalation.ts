/**
 * no-privilege-escalation
 *
 * Spec: `allowPrivilegeEscalation: false` on every container where it is unset. The API rejects that
 * value next to `privileged: true` or an added SYS_ADMIN capability, so those containers are left
 * unset and reported.
 *
 * Windows pods: skipped (the API forbids the field there).
 */
import type { Pod } from '../pod/model.js';
import { DraftRecorder } from './recorder.js';
import type { Control, ControlScope } from './types.js';

/** The API validates the `CAP_`-prefixed spelling; the bare one is what users write and runtimes accept. */
const SYS_ADMIN = new Set(['SYS_ADMIN', 'CAP_SYS_ADMIN']);

export const noPrivilegeEscalation: Control = {
  id: 'no-privilege-escalation',
  coversEphemeralContainers: true,
  linuxOnly: 'the API forbids allowPrivilegeEscalation',
  apply(_draft: Pod, scope: ControlScope) {
    const rec = new DraftRecorder('no-privilege-escalation');
    for (const ref of scope.targets) {
      const sc = ref.container.securityContext;
      if (sc?.allowPrivilegeEscalation !== undefined && sc.allowPrivilegeEscalation !== null) continue;
      if (sc?.privileged === true) {
        rec.skip(ref.name, 'privileged: true; the API forbids allowPrivilegeEscalation: false with it');
        continue;
      }
      if ((sc?.capabilities?.add ?? []).some((cap) => SYS_ADMIN.has(cap))) {
        rec.skip(ref.name, 'adds SYS_ADMIN; the API forbids allowPrivilegeEscalation: false with it');
        continue;
      }
      rec.fill(ref.container, ref.pointer, ['securityContext', 'allowPrivilegeEscalation'], false, ref.name);
    }
    return rec.result();
  },
};
