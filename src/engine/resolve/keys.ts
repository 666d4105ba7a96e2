/**
 * Every annotation and label key pod-hardener reads or writes, derived from one configurable prefix so
 * that an organisation can run it under its own domain.
 */
export interface Keys {
  /** Namespace label that opts a namespace in. Value must be "true". */
  readonly enabled: string;
  /** Namespace annotation: enforce | warn | audit. */
  readonly mode: string;
  /** Namespace annotation: "false" makes pod opt-outs ineffective. */
  readonly allowOptOut: string;
  /** Pod annotation: "true" skips the pod. */
  readonly skip: string;
  /** Pod annotation: comma list of `control` or `container/control`. */
  readonly skipControls: string;
  /** Pod annotation: positive integer UID. */
  readonly runAsUser: string;
  /** Pod annotation: comma list of absolute paths that get a writable emptyDir. */
  readonly writablePaths: string;
  /** Written by us: JSON array of field-level changes. */
  readonly changes: string;
  /** Written by us: the opt-outs that were honoured. */
  readonly optOuts: string;
  /** Written by us: the seal that proves `changes` and `opt-outs` are ours (engine/record/seal.ts). */
  readonly changesSeal: string;
}

// A review asks for the keys in three layers (namespace decision, policy, record); a process has one
// prefix, so the last one's keys are kept rather than built again each time.
let lastPrefix: string | undefined;
let lastKeys: Keys | undefined;

export function keysFor(prefix: string): Keys {
  if (prefix === lastPrefix && lastKeys !== undefined) return lastKeys;
  lastKeys = Object.freeze(buildKeys(prefix));
  lastPrefix = prefix;
  return lastKeys;
}

function buildKeys(prefix: string): Keys {
  const key = (name: string): string => `${prefix}/${name}`;
  return {
    enabled: key('enabled'),
    mode: key('mode'),
    allowOptOut: key('allow-opt-out'),
    skip: key('skip'),
    skipControls: key('skip-controls'),
    runAsUser: key('run-as-user'),
    writablePaths: key('writable-paths'),
    changes: key('changes'),
    optOuts: key('opt-outs'),
    changesSeal: key('changes-seal'),
  };
}
