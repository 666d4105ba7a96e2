import { expect } from 'chai';
import { cloneJson } from '../../../src/engine/pod/json.js';

describe('cloneJson', () => {
  it('copies nested objects and arrays deeply', () => {
    const original = {
      spec: { containers: [{ name: 'a', ports: [{ containerPort: 80 }] }] },
      n: 1,
      s: 'x',
      z: null,
    };
    const copy = cloneJson(original);
    expect(copy).to.deep.equal(original);
    copy.spec.containers[0]!.ports[0]!.containerPort = 81;
    expect(original.spec.containers[0]!.ports[0]!.containerPort).to.equal(80);
  });

  it('keeps a JSON "__proto__" key an own property and never a prototype', () => {
    const parsed = JSON.parse('{"metadata":{"__proto__":{"polluted":true},"name":"p"}}') as {
      metadata: Record<string, unknown>;
    };
    const copy = cloneJson(parsed);
    expect(Object.getPrototypeOf(copy.metadata)).to.equal(Object.prototype);
    expect(Object.keys(copy.metadata)).to.deep.equal(['__proto__', 'name']);
    expect((copy.metadata as { polluted?: unknown }).polluted).to.be.undefined;
    expect(JSON.stringify(copy)).to.equal(JSON.stringify(parsed));
  });

  it('falls back to structuredClone for values that are not plain JSON', () => {
    const when = new Date(0);
    const copy = cloneJson({ when });
    expect(copy.when).to.be.instanceOf(Date);
    expect(copy.when).to.not.equal(when);
    expect(copy.when.getTime()).to.equal(0);
  });
});
