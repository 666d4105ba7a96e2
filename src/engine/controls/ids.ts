/**
 * Stable control ids. They appear in configuration, in the `skip-controls` opt-out annotation and in
 * every audit record, so renaming one is a breaking change for operators.
 */
export const CONTROL_IDS = [
  'run-as-non-root',
  'drop-all-capabilities',
  'no-privilege-escalation',
  'read-only-root-filesystem',
  'seccomp-runtime-default',
  'default-resources',
] as const;

export type ControlId = (typeof CONTROL_IDS)[number];

export function isControlId(value: string): value is ControlId {
  return (CONTROL_IDS as readonly string[]).includes(value);
}
