import { expect } from 'chai';
import {
  MAX_IMAGE_REFERENCE_LENGTH,
  imageGlobProblem,
  matchesImageGlob,
} from '../../../src/engine/resolve/image-glob.js';
import { profileForImage } from '../../../src/engine/resolve/resolve.js';
import type { ImageProfile } from '../../../src/engine/resolve/settings.js';

describe('engine/resolve/image-glob', () => {
  const cases: [glob: string, image: string, matches: boolean][] = [
    ['nginx', 'nginx', true],
    ['nginx', 'nginx:1.27', false],
    ['nginx:*', 'nginx:1.27', true],
    ['nginx:*', 'nginx:', true],
    ['nginx:*', 'nginx', false],
    ['nginx:*', 'nginx-unprivileged:1.27', false],
    ['nginx*', 'nginx-unprivileged:1.27', true],
    ['nginx:1.2?', 'nginx:1.27', true],
    ['nginx:1.2?', 'nginx:1.2', false],
    ['docker.io/library/nginx:*', 'docker.io/library/nginx:1.27-alpine', true],
    ['docker.io/library/nginx:*', 'nginx:1.27', false],
    // `*` never crosses `/`.
    ['registry.example.com/team/*', 'registry.example.com/team/app', true],
    ['registry.example.com/team/*', 'registry.example.com/team/other/app', false],
    ['*', 'nginx:1.27', true],
    ['*', 'library/nginx', false],
    ['*/nginx:*', 'docker.io/nginx:1', true],
    // `*` crosses `:` and `.`: registry ports.
    ['localhost:*/app:*', 'localhost:5000/app:v1', true],
    ['registry.*/app', 'registry.example.com/app', true],
    // Digests: stripped unless the glob names one.
    ['nginx', 'nginx@sha256:0123abcd', true],
    ['nginx:*', 'nginx:1.27@sha256:0123abcd', true],
    ['nginx:*', 'nginx@sha256:0123abcd', false],
    ['nginx@sha256:0123abcd', 'nginx@sha256:0123abcd', true],
    ['nginx@sha256:0123abcd', 'nginx@sha256:ffff', false],
    ['nginx@*', 'nginx@sha256:0123abcd', true],
    ['nginx@*', 'nginx', false],
    // Case-sensitive, no normalisation.
    ['nginx', 'NGINX', false],
    ['postgres:*alpine*', 'postgres:16-alpine3.20', true],
    ['postgres:*alpine*', 'postgres:16-bookworm', false],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'axxbyy', false],
    ['*a', 'aaaa', true],
  ];
  for (const [glob, image, matches] of cases) {
    it(`${glob} ${matches ? 'matches' : 'does not match'} ${image}`, () => {
      expect(imageGlobProblem(glob)).to.equal(undefined);
      expect(matchesImageGlob(glob, image)).to.equal(matches);
    });
  }

  it('a reference longer than any real one matches nothing, quickly', () => {
    const long = `${'a'.repeat(MAX_IMAGE_REFERENCE_LENGTH)}:1`;
    expect(matchesImageGlob('*', long)).to.equal(false);
    const started = process.hrtime.bigint();
    const hostile = 'a'.repeat(MAX_IMAGE_REFERENCE_LENGTH - 1);
    expect(matchesImageGlob('*a*a*a*a*a*a*a*b', hostile)).to.equal(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).to.be.below(200);
  });

  it('refuses what is not a glob, saying why', () => {
    const bad: [string, string][] = [
      ['', 'empty'],
      ['nginx latest', 'only the characters'],
      ['nginx:[0-9]*', 'only the characters'],
      ['nginx:{a,b}', 'only the characters'],
      ['registry/**', '**'],
      ['/nginx', 'empty path component'],
      ['team//nginx', 'empty path component'],
      ['nginx@sha256:a@b', 'more than one @'],
      ['x'.repeat(600), 'longer than'],
    ];
    for (const [glob, why] of bad) expect(imageGlobProblem(glob), glob).to.include(why);
  });

  it('the first profile with a matching glob wins', () => {
    const profiles: ImageProfile[] = [
      { name: 'alpine', images: ['postgres:*alpine*'] },
      { name: 'debian', images: ['postgres', 'postgres:*'] },
    ];
    expect(profileForImage(profiles, 'postgres:16-alpine')?.name).to.equal('alpine');
    expect(profileForImage(profiles, 'postgres:16')?.name).to.equal('debian');
    expect(profileForImage(profiles, 'postgres@sha256:00')?.name).to.equal('debian');
    expect(profileForImage(profiles, 'mysql:8')).to.equal(undefined);
    expect(profileForImage(profiles, undefined)).to.equal(undefined);
    expect(profileForImage(profiles, '')).to.equal(undefined);
  });
});
