const KERNEL_FILESYSTEMS = ['/proc', '/sys', '/dev'];
/** Directories whose contents every image needs: an empty directory over one leaves nothing to run. */
const SYSTEM_DIRECTORIES = new Set(['/etc', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']);
/** Files the kubelet mounts into every container. */
const KUBELET_FILES = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']);
const SERVICE_ACCOUNT_MOUNTS = [
  '/var/run/secrets/kubernetes.io/serviceaccount',
  '/run/secrets/kubernetes.io/serviceaccount',
];
/** Between /run and the token: an emptyDir there would be mounted over the token's parents. */
const SERVICE_ACCOUNT_PARENTS = new Set([
  '/var/run/secrets',
  '/var/run/secrets/kubernetes.io',
  '/run/secrets',
  '/run/secrets/kubernetes.io',
]);

const isAtOrBelow = (candidate: string, dir: string): boolean =>
  candidate === dir || candidate.startsWith(`${dir}/`);

/**
 * Why a writable path would break or weaken the container, or undefined when it is safe. An emptyDir
 * over a kernel filesystem or a system directory makes a container that cannot start; over the
 * service-account mount (or a directory between /run and it) it hides or replaces the token.
 */
export function unsafeWritablePath(normalised: string): string | undefined {
  if (KERNEL_FILESYSTEMS.some((dir) => isAtOrBelow(normalised, dir)))
    return 'an emptyDir there would hide a kernel filesystem the runtime mounts';
  if (SYSTEM_DIRECTORIES.has(normalised)) return 'an emptyDir there would hide what the image needs to run';
  if (KUBELET_FILES.has(normalised)) return 'the kubelet mounts that file into every container';
  if (
    SERVICE_ACCOUNT_PARENTS.has(normalised) ||
    SERVICE_ACCOUNT_MOUNTS.some((m) => isAtOrBelow(normalised, m))
  )
    return 'an emptyDir there would hide the service-account token';
  return undefined;
}
