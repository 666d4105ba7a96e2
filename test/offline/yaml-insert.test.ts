import { expect } from 'chai';
import type { Operation } from 'fast-json-patch';
import jsonPatch from 'fast-json-patch';
import { parse } from 'yaml';
import { parseManifestFile } from '../../src/offline/documents.js';
import { styleOf } from '../../src/offline/render.js';
import { insertIntoSource } from '../../src/offline/yaml-insert.js';

function insert(source: string, patch: Operation[], base: (string | number)[] = []): string | undefined {
  const [document] = parseManifestFile('t.yaml', source, false).documents;
  if (document === undefined) throw new Error('no document');
  return insertIntoSource(document, [{ base, patch }], styleOf(document.source));
}

function patched(source: string, patch: Operation[], base: string): unknown {
  const value = parse(source) as unknown;
  jsonPatch.applyPatch(
    value,
    patch.map((op) => ({ ...op, path: base + op.path })),
    false,
    true,
  );
  return value;
}

const POD = `spec:
  containers:
    - name: web # the app
      image: nginx
      volumeMounts:
        - name: data
          mountPath: /data
  volumes:
  - name: data
    emptyDir: {}
# trailing comment
`;

describe('insertIntoSource: new keys and items written into the source', () => {
  it('adds keys and items after their collection, deepest first where collections end together', () => {
    const patch: Operation[] = [
      { op: 'add', path: '/spec/securityContext', value: { runAsUser: 1000, fsGroup: 1000 } },
      {
        op: 'add',
        path: '/spec/containers/0/securityContext',
        value: { capabilities: { drop: ['ALL'] } },
      },
      { op: 'add', path: '/spec/containers/0/volumeMounts/-', value: { name: 'tmp', mountPath: '/tmp' } },
      { op: 'add', path: '/spec/volumes/1', value: { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } } },
    ];
    const out = insert(POD, patch);
    expect(out).to.be.a('string');
    expect(parse(out ?? '')).to.deep.equal(patched(POD, patch, ''));
    // Only lines added: every source line is there, in order.
    const lines = (out ?? '').split('\n');
    let at = 0;
    for (const line of POD.split('\n')) {
      at = lines.indexOf(line, at) + 1;
      expect(at, JSON.stringify(line)).to.be.above(0);
    }
    // The sequence written without indentation keeps its style, and the new item sits at its column.
    expect(out).to.include('  volumes:\n  - name: data\n    emptyDir: {}\n  - name: tmp\n');
  });

  it('refuses what it cannot write as added lines, so the caller renders the document', () => {
    const flow = 'spec: { containers: [{ name: a }] }\n';
    expect(insert(flow, [{ op: 'add', path: '/spec/x', value: 1 }])).to.equal(undefined);
    expect(insert(POD, [{ op: 'replace', path: '/spec/containers/0/image', value: 'x' }])).to.equal(
      undefined,
    );
    expect(insert(POD, [{ op: 'add', path: '/spec/volumes', value: [] }]), 'key exists').to.equal(undefined);
    expect(insert(POD, [{ op: 'add', path: '/spec/containers/0', value: { name: 'b' } }])).to.equal(
      undefined,
    );
    expect(
      insert(POD, [{ op: 'add', path: '/spec/securityContext/runAsUser', value: 1 }]),
      'a parent the patch creates',
    ).to.equal(undefined);
    const aliased = 'base: &b\n  a: 1\nspec: *b\n';
    expect(insert(aliased, [{ op: 'add', path: '/spec/c', value: 2 }]), 'through an alias').to.equal(
      undefined,
    );
  });

  it('ends the last line first when the document has no final newline', () => {
    const source = 'spec:\n  a: 1';
    const out = insert(source, [{ op: 'add', path: '/b', value: 2 }], ['spec']);
    expect(out).to.equal('spec:\n  a: 1\n  b: 2\n');
  });
});
