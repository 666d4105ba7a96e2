import { expect } from 'chai';
import jsonPatch from 'fast-json-patch';
import { harden } from '../../../src/engine/harden/harden.js';
import { draftOf } from '../../../src/engine/pod/draft.js';
import type { Pod } from '../../../src/engine/pod/model.js';
import { resolvePolicy, type ResolvedPolicy } from '../../../src/engine/resolve/resolve.js';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from '../../../src/engine/resolve/settings.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function enforcePolicy(pod: Pod, settings: EngineSettings = DEFAULT_ENGINE_SETTINGS): ResolvedPolicy {
  const resolution = resolvePolicy(
    settings,
    { mode: 'enforce', allowOptOut: true, warnings: [] },
    pod,
    false,
  );
  if (resolution.skipPod) throw new Error('test pod skipped itself');
  return resolution.policy;
}

/** Fields at every depth the controls write to, next to subtrees no control touches. */
function podWithSharedParts(): Pod {
  return {
    metadata: { name: 'p', namespace: 'ns', labels: { app: 'a' }, annotations: { note: 'x' } },
    spec: {
      securityContext: { supplementalGroups: [5] },
      volumes: [{ name: 'data', emptyDir: {} }],
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1',
          env: [{ name: 'A', value: '1' }],
          securityContext: { capabilities: { drop: ['NET_RAW'] } },
          resources: { limits: { memory: '64Mi' } },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
          livenessProbe: { httpGet: { path: '/healthz', port: 8080 } },
        },
      ],
    },
  };
}

describe('engine/pod/draft', () => {
  it('copies the spec, the container lists and each container, and shares everything below them', () => {
    const pod = podWithSharedParts();
    const draft = draftOf(pod);
    expect(draft).to.deep.equal(pod);
    expect(draft.spec).to.not.equal(pod.spec);
    expect(draft.spec?.containers).to.not.equal(pod.spec?.containers);
    expect(draft.spec?.containers[0]).to.not.equal(pod.spec?.containers[0]);
    expect(draft.metadata).to.not.equal(pod.metadata);
    expect(draft.spec?.containers[0]?.env).to.equal(pod.spec?.containers[0]?.env);
    expect(draft.spec?.volumes).to.equal(pod.spec?.volumes);
  });

  it('hardens a deeply frozen pod: every write copies what it reaches first, and the patch is exact', () => {
    const pod = deepFreeze(podWithSharedParts());
    const result = harden(pod, enforcePolicy(pod));
    expect(result.changes.length).to.be.greaterThan(5);
    const container = result.draft.spec?.containers[0];
    expect(container?.securityContext?.capabilities?.drop).to.deep.equal(['NET_RAW', 'ALL']);
    expect(container?.resources?.limits?.memory).to.equal('64Mi');
    expect(container?.volumeMounts?.map((m) => m.mountPath)).to.include('/tmp');
    expect(result.draft.spec?.volumes?.length).to.equal(2);
    // What no control wrote stays shared, so the diff never walks it.
    expect(container?.env).to.equal(pod.spec?.containers[0]?.env);
    expect(container?.livenessProbe).to.equal(pod.spec?.containers[0]?.livenessProbe);
    const applied = jsonPatch.applyPatch(structuredClone(pod), result.patch, true, false).newDocument;
    expect(applied).to.deep.equal(result.draft);
  });

  it('a second pass over a first pass’s draft copies what the first wrote instead of changing it', () => {
    const pod: Pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'app:1' }] } };
    const first = harden(pod, enforcePolicy(pod)).draft;
    // The second pass (an image profile the admin added meanwhile) wants one more writable path, so it
    // appends to the volume list and the mount list the first pass created, and so owned.
    const settings: EngineSettings = {
      ...DEFAULT_ENGINE_SETTINGS,
      imageProfiles: [{ name: 'cache', images: ['app:*'], writablePaths: ['/var/cache'] }],
    };
    const snapshot = structuredClone(first);
    deepFreeze(first);
    const second = harden(first, enforcePolicy(first, settings));
    expect(first).to.deep.equal(snapshot);
    expect(second.changes.map((change) => change.path)).to.deep.equal([
      '/spec/volumes/1',
      '/spec/containers/0/volumeMounts/1',
    ]);
  });
});
