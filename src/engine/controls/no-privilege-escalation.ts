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
import type { Control, ControlContext } from './types.js';

/** The API validates the `CAP_`-prefixed spelling; the bare one is what users write and runtimes accept. */
const SYS_ADMIN = new Set(['SYS_ADMIN', 'CAP_SYS_ADMIN']);

export const noPrivilegeEscalation: Control = {
  id: 'no-privilege-escalation',
  coversEphemeralContainers: true,
  apply(_draft: Pod, ctx: ControlContext) {
    const rec = new DraftRecorder('no-privilege-escalation');
    for (const ref of ctx.targets) {
      if (ctx.windows) {
        rec.skip(ref.name, 'Windows pod: the API forbids allowPrivilegeEscalation');
        continue;
      }
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
    for (const ref of ctx.optedOut) rec.skip(ref.name, 'opted out');
    return rec.result();
  },
};
