import { admissionReview } from '../../support/admission-review.js';
import { expect } from 'chai';
import { podShapeProblem } from '../../../src/engine/pod/shape.js';
import { parseAdmissionReview } from '../../../src/engine/review/envelope.js';

const container = { name: 'app', image: 'example/app:1' };
const pod = (spec: Record<string, unknown>, metadata: unknown = { name: 'p' }): unknown => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata,
  spec,
});

describe('podShapeProblem', () => {
  const rows: { name: string; object: unknown; problem: string | undefined }[] = [
    { name: 'a minimal pod', object: pod({ containers: [container] }), problem: undefined },
    {
      name: 'a pod with every list and nulls where the API allows them',
      object: pod(
        {
          initContainers: [{ ...container, name: 'init', securityContext: null }],
          containers: [
            { ...container, resources: { requests: null }, volumeMounts: [{ name: 'v', mountPath: '/x' }] },
          ],
          ephemeralContainers: null,
          volumes: [{ name: 'v', emptyDir: {} }],
          securityContext: {},
          os: { name: 'linux' },
        },
        { name: 'p', annotations: { 'a/b': 'c' } },
      ),
      problem: undefined,
    },
    { name: 'not an object', object: 'pod', problem: 'object must be a Pod object' },
    { name: 'no spec', object: { metadata: {} }, problem: 'object.spec must be an object' },
    {
      name: 'containers not a list',
      object: pod({ containers: {} }),
      problem: 'object.spec.containers must be an array',
    },
    {
      name: 'a container without a name',
      object: pod({ containers: [{ image: 'x' }] }),
      problem: 'object.spec.containers[0].name must be a non-empty string',
    },
    {
      name: 'a container that is not an object',
      object: pod({ containers: [container, 7] }),
      problem: 'object.spec.containers[1] must be an object',
    },
    {
      name: 'a securityContext that is a string',
      object: pod({ initContainers: [{ ...container, securityContext: 'x' }], containers: [container] }),
      problem: 'object.spec.initContainers[0].securityContext must be an object',
    },
    {
      name: 'capabilities.drop that is a string',
      object: pod({ containers: [{ ...container, securityContext: { capabilities: { drop: 'ALL' } } }] }),
      problem: 'object.spec.containers[0].securityContext.capabilities.drop must be a list of strings',
    },
    {
      name: 'a mount without a path',
      object: pod({ containers: [{ ...container, volumeMounts: [{ name: 'v' }] }] }),
      problem: 'object.spec.containers[0].volumeMounts[0].mountPath must be a string',
    },
    {
      name: 'limits that are a list',
      object: pod({ containers: [{ ...container, resources: { limits: ['1'] } }] }),
      problem: 'object.spec.containers[0].resources.limits must be an object',
    },
    {
      name: 'a volume without a name',
      object: pod({ containers: [container], volumes: [{ emptyDir: {} }] }),
      problem: 'object.spec.volumes[0].name must be a string',
    },
    {
      name: 'an annotation value that is a number',
      object: pod({ containers: [container] }, { annotations: { 'pod-hardener.io/run-as-user': 101 } }),
      problem: 'object.metadata.annotations["pod-hardener.io/run-as-user"] must be a string',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(podShapeProblem(row.object)).to.equal(row.problem);
    });
  }

  it('makes parseAdmissionReview name the offending field, for the object and the oldObject', () => {
    const review = (object: unknown, oldObject?: unknown): unknown =>
      admissionReview(object, { uid: 'u', operation: 'UPDATE', oldObject });
    expect(parseAdmissionReview(review(pod({ containers: 1 })))).to.deep.equal({
      error: 'request.object.spec.containers must be an array',
    });
    expect(parseAdmissionReview(review(pod({ containers: [container] }), { spec: [] }))).to.deep.equal({
      error: 'request.oldObject.spec must be an object',
    });
    expect(parseAdmissionReview(review(pod({ containers: [container] })))).to.have.property('review');
  });
});
