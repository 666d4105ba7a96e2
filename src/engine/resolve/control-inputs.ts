import type { ContainerUser, ControlInputs, ProfileValue, ResourceMinimums } from '../controls/types.js';
import type { ResolvedPolicy } from './resolve.js';

/**
 * The values the controls read, and nothing else of the policy: the defaults, and per container what
 * its image profile decided. A pod annotation wins over a profile: run-as-user replaces the profile's
 * UID (and its runAsRoot), writable-paths adds to the profile's paths.
 */
export function controlInputs(policy: ResolvedPolicy): ControlInputs {
  const { runAsUser, runAsGroup, fsGroup, writablePaths, writableVolumeSizeLimit, resources } = policy;
  const users = new Map<string, ContainerUser>();
  const profileWritablePaths = new Map<string, ProfileValue<readonly string[]>>();
  const keepCapabilities = new Map<string, ProfileValue<readonly string[]>>();
  const resourceMinimums = new Map<string, ResourceMinimums>();
  const podPaths = new Set(writablePaths);
  for (const [pointer, profile] of policy.profiles) {
    const { name } = profile;
    if (profile.runAsRoot === true && !policy.runAsUserFromAnnotation) {
      users.set(pointer, { runAsRoot: true, profile: name });
    } else if (
      (profile.runAsUser !== undefined && !policy.runAsUserFromAnnotation) ||
      profile.runAsGroup !== undefined
    ) {
      users.set(pointer, {
        runAsRoot: false,
        runAsUser:
          profile.runAsUser !== undefined && !policy.runAsUserFromAnnotation
            ? { value: profile.runAsUser, profile: name }
            : { value: runAsUser },
        runAsGroup:
          profile.runAsGroup !== undefined
            ? { value: profile.runAsGroup, profile: name }
            : { value: runAsGroup },
      });
    }
    const paths = (profile.writablePaths ?? []).filter((path) => !podPaths.has(path));
    if (paths.length > 0) profileWritablePaths.set(pointer, { value: paths, profile: name });
    if ((profile.keepCapabilities ?? []).length > 0)
      keepCapabilities.set(pointer, { value: profile.keepCapabilities ?? [], profile: name });
    const { requests = {}, limits = {} } = profile.resources ?? {};
    if (Object.keys(requests).length + Object.keys(limits).length > 0)
      resourceMinimums.set(pointer, { profile: name, requests, limits });
  }
  return {
    runAsUser,
    runAsGroup,
    fsGroup,
    writablePaths,
    writableVolumeSizeLimit,
    resources,
    users,
    profileWritablePaths,
    keepCapabilities,
    resourceMinimums,
  };
}
