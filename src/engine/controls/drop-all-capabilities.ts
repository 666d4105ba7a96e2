/**
 * drop-all-capabilities
 *
 * Spec: every container's `securityContext.capabilities.drop` contains exactly `"ALL"`; it is appended
 * to an existing list. Pod Security compares case-sensitively, so a lowercase `"all"` does not count
 * (it stays, and `"ALL"` is added). Existing `add` entries are kept, because dropping ALL does not
 * remove them (Istio's init container needs NET_ADMIN and NET_RAW); anything beyond NET_BIND_SERVICE is
 * reported by the Pod Security check.
 *
 * An image profile's `keepCapabilities` are added back, as `capabilities.add`, only where this control
 * appended the `"ALL"` itself and the container sets no `add` of its own: an explicit drop or add is
 * the author's choice. A container that sets `add` while its profile keeps capabilities is reported.
 * A kept SYS_ADMIN is not added next to an explicit `allowPrivilegeEscalation: false` (the API rejects
 * the pair); that is recorded and warned about.
 * no-privilege-escalation runs after this control, so it sees a kept SYS_ADMIN.
 *
 * Windows pods: skipped (the API forbids capabilities there).
 */
import type { Pod } from '../pod/model.js';
import { DraftRecorder, getPath } from './recorder.js';
import type { Control, ControlInputs, ControlScope } from './types.js';

export const dropAllCapabilities: Control = {
  id: 'drop-all-capabilities',
  coversEphemeralContainers: true,
  linuxOnly: 'the API forbids capabilities',
  apply(_draft: Pod, scope: ControlScope, { keepCapabilities }: Pick<ControlInputs, 'keepCapabilities'>) {
    const rec = new DraftRecorder('drop-all-capabilities');
    for (const ref of scope.targets) {
      const drop = getPath(ref.container, ['securityContext', 'capabilities', 'drop']);
      if (Array.isArray(drop) && drop.includes('ALL')) continue;
      rec.append(ref.container, ref.pointer, ['securityContext', 'capabilities', 'drop'], 'ALL', ref.name);
      const keep = keepCapabilities.get(ref.pointer);
      if (keep === undefined) continue;
      // The API rejects SYS_ADMIN next to allowPrivilegeEscalation: false, which the author set here.
      if (
        ref.container.securityContext?.allowPrivilegeEscalation === false &&
        keep.value.some((c) => c === 'SYS_ADMIN' || c === 'CAP_SYS_ADMIN')
      ) {
        rec.skip(
          ref.name,
          `keepCapabilities of image profile ${keep.profile} not added: SYS_ADMIN next to the ` +
            `container's allowPrivilegeEscalation: false would make the pod invalid`,
          { profile: keep.profile, keepsStartable: true },
        );
        continue;
      }
      const added = rec.fill(
        ref.container,
        ref.pointer,
        ['securityContext', 'capabilities', 'add'],
        [...keep.value],
        ref.name,
        keep.profile,
      );
      if (!added)
        rec.skip(
          ref.name,
          `capabilities.add is set; keepCapabilities of image profile ${keep.profile} not added`,
          { profile: keep.profile },
        );
    }
    return rec.result();
  },
};
