/**
 * Table-driven harness for the controls, in the spirit of k8s.io/pod-security-admission's check tests:
 * each row is a minimal pod plus what the control must record, and the runner proves the draft holds
 * exactly those changes and nothing else.
 */
import { expect } from 'chai';
import jsonPatch from 'fast-json-patch';
import type { Control, ControlResult } from '../../src/engine/controls/types.js';
import type { ControlId } from '../../src/engine/controls/ids.js';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from '../../src/engine/resolve/settings.js';
import { isWindowsPod, type Pod } from '../../src/engine/pod/model.js';
import { resolvePolicy, type ResolvedPolicy } from '../../src/engine/resolve/resolve.js';
import { passScope, runControl } from '../../src/engine/harden/context.js';
import { controlInputs } from '../../src/engine/resolve/control-inputs.js';

export interface ContextOptions {
  /** Engine settings on top of DEFAULT_ENGINE_SETTINGS; pod annotations still go through resolvePolicy. */
  readonly policy?: Partial<EngineSettings>;
  /** False models the ephemeral-containers subresource: only ephemeral containers are in scope. */
  readonly podLevel?: boolean;
  /** Container names forced out of this control, as a `skip-controls` entry would do. */
  readonly optedOut?: readonly string[];
}

export interface ExpectedChange {
  readonly target: string;
  readonly path: string;
  readonly value: unknown;
}

export interface ExpectedSkip {
  readonly target: string;
  readonly reasonIncludes: string;
}

export interface ControlRow extends ContextOptions {
  readonly name: string;
  readonly pod: Pod;
  readonly expectChanges: readonly ExpectedChange[];
  /** Omitted means no skips at all: an unexpected skip is as much a regression as an unexpected change. */
  readonly expectSkips?: readonly ExpectedSkip[];
  readonly expectDraftSubset?: unknown;
}

export function resolveTestPolicy(pod: Pod, settings: Partial<EngineSettings> = {}): ResolvedPolicy {
  const resolution = resolvePolicy(
    { ...DEFAULT_ENGINE_SETTINGS, ...settings },
    { mode: 'enforce', allowOptOut: true, warnings: [] },
    pod,
  );
  if (resolution.skipPod) throw new Error('test pod is skipped entirely; a control row needs a hardened pod');
  return resolution.policy;
}

/** The policy with `optedOut` container names out of `control`, as a `skip-controls` entry does. */
function withOptOuts(policy: ResolvedPolicy, control: ControlId, names: readonly string[]): ResolvedPolicy {
  if (names.length === 0) return policy;
  const disabledForContainer = new Map(policy.disabledForContainer);
  for (const name of names)
    disabledForContainer.set(name, new Set([...(disabledForContainer.get(name) ?? []), control]));
  return { ...policy, disabledForContainer };
}

/**
 * Runs a control on a copy of the pod through harden()'s own runControl, so rows see the same targets,
 * pod-level rule and shared skips. `podLevel: false` puts every ephemeral container in scope, as an
 * UPDATE of the ephemeral-containers subresource adding them all would.
 */
export function applyControl(
  control: Control,
  pod: Pod,
  options: ContextOptions = {},
): { draft: Pod; result: ControlResult } {
  const draft = structuredClone(pod);
  const policy = withOptOuts(resolveTestPolicy(draft, options.policy), control.id, options.optedOut ?? []);
  const newEphemeral =
    options.podLevel === false
      ? new Set((draft.spec?.ephemeralContainers ?? []).map((c) => c.name))
      : undefined;
  const pass = passScope(draft, isWindowsPod(draft), newEphemeral);
  const result = runControl(control, draft, pass, policy, controlInputs(policy));
  return { draft, result };
}

function unescapeSegment(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Replays recorded changes onto a copy of the original; missing parents become objects, as fill does. */
export function replayChanges(original: Pod, changes: readonly { path: string; value: unknown }[]): Pod {
  const copy = structuredClone(original) as unknown as Record<string, unknown>;
  for (const { path, value } of changes) {
    const segments = path.split('/').slice(1).map(unescapeSegment);
    let parent: Record<string, unknown> = copy;
    for (const segment of segments.slice(0, -1)) {
      const next = parent[segment];
      if (next === null || typeof next !== 'object') parent[segment] = {};
      parent = parent[segment] as Record<string, unknown>;
    }
    parent[segments[segments.length - 1] ?? ''] = structuredClone(value);
  }
  return copy;
}

/** Every key in `subset` must match `actual`; arrays must match element by element and in length. */
export function expectSubset(actual: unknown, subset: unknown, at = ''): void {
  if (Array.isArray(subset)) {
    expect(actual, `${at} is an array`).to.be.an('array');
    const list = actual as unknown[];
    expect(list, `${at} length`).to.have.length(subset.length);
    subset.forEach((item, i) => {
      expectSubset(list[i], item, `${at}/${i}`);
    });
  } else if (subset !== null && typeof subset === 'object') {
    expect(actual, `${at} is an object`).to.be.an('object');
    for (const [key, value] of Object.entries(subset)) {
      expectSubset((actual as Record<string, unknown>)[key], value, `${at}/${key}`);
    }
  } else {
    expect(actual, at || '/').to.deep.equal(subset);
  }
}

export function runControlRow(control: Control, row: ControlRow): void {
  const snapshot = structuredClone(row.pod);
  const { draft, result } = applyControl(control, row.pod, row);

  expect(row.pod, 'input pod is never modified').to.deep.equal(snapshot);
  expect(
    result.changes.map(({ target, path, value }) => ({ target, path, value })),
    'changes',
  ).to.deep.equal(row.expectChanges);
  for (const change of result.changes) expect(change.control).to.equal(control.id);

  // The audit record is only trustworthy if the draft differs from the input by exactly the recorded
  // changes, and a control may only add: replace or remove would mean an explicit value was overwritten.
  expect(jsonPatch.compare(replayChanges(row.pod, result.changes), draft), 'unrecorded edits').to.deep.equal(
    [],
  );
  const ops = jsonPatch.compare(row.pod, draft);
  expect(
    ops.filter((op) => op.op !== 'add'),
    'only additions',
  ).to.deep.equal([]);

  const skips = result.skipped.map(({ target, reason }) => ({ target, reason }));
  const expectedSkips = row.expectSkips ?? [];
  expect(
    skips.map((s) => s.target),
    `skip targets ${JSON.stringify(skips)}`,
  ).to.deep.equal(expectedSkips.map((s) => s.target));
  expectedSkips.forEach((expected, i) => {
    expect(skips[i]?.reason, `skip reason for ${expected.target}`).to.include(expected.reasonIncludes);
  });
  for (const skip of result.skipped) expect(skip.control).to.equal(control.id);

  if (row.expectDraftSubset !== undefined) expectSubset(draft, row.expectDraftSubset);

  // A reinvocation pass over our own output must find nothing left to do.
  const second = applyControl(control, draft, row);
  expect(second.result.changes, 'second pass changes').to.deep.equal([]);
}

/** One mocha test per row. */
export function describeControlTable(control: Control, rows: readonly ControlRow[]): void {
  for (const row of rows) {
    it(row.name, () => {
      runControlRow(control, row);
    });
  }
}
