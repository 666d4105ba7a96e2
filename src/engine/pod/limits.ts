/**
 * Caps on what one review may ask of the webhook. The webhook sees a pod before the API server
 * validates it, so anyone who may create pods in an opted-in namespace controls every list and
 * annotation below; each cap keeps a review's time and memory linear in a bounded size, so one pod
 * cannot stall the event loop past `timeoutSeconds` or exhaust the heap. Real pods stay far below
 * every cap. README "Security" lists them with what happens beyond each.
 */

/**
 * Containers of all three lists together. Beyond it an enforce-mode pod is denied (it cannot be
 * hardened within the webhook's budget, and admitting it unhardened would break the promise of the
 * namespace); warn and audit modes admit it unchanged with a warning.
 */
export const MAX_CONTAINERS_PER_POD = 250;

/** Entries of the `writable-paths` annotation that are read; the rest are ignored with a warning. */
export const MAX_WRITABLE_PATHS = 32;

/**
 * Entries of the `skip-controls` annotation that are read; the rest are ignored with a warning.
 * Ignoring an opt-out only hardens more.
 */
export const MAX_SKIP_CONTROLS_ENTRIES = 100;

/**
 * Nesting of the objects in a request. A real pod, managedFields included, is about 20 levels deep;
 * the engine's copy and diff recurse, so deeper input is refused (400) before they run.
 */
export const MAX_OBJECT_DEPTH = 64;

/** Our own changes record never exceeds 8 KiB; a longer value is not ours and is not parsed. */
export const MAX_CHANGES_RECORD_BYTES = 16 * 1024;
