import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { documentedValues, expectedReadme, README } from '../../scripts/chart-values-table.js';

describe('chart: README values table', () => {
  it('is what scripts/chart-values-table.ts generates from values.yaml (run it with --write)', async () => {
    expect(readFileSync(README, 'utf8')).to.equal(await expectedReadme());
  });

  it('refuses a value without a "# --" comment', () => {
    expect(() => documentedValues('a:\n  # -- documented\n  b: 1\nc: 2\n')).to.throw(
      /no "# -- " comment for c/,
    );
    expect(documentedValues('# -- the map\nm:\n  x: 1\n').map((doc) => doc.key)).to.deep.equal(['m']);
  });
});
