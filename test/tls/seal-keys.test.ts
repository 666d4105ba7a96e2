import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { createRecordSealer, type SealSubject } from '../../src/engine/record/seal.js';
import { createSealKeyRing, deriveSealKey } from '../../src/tls/seal-keys.js';

const pem = (format: 'pkcs8' | 'sec1', key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey) =>
  Buffer.from(key.export({ type: format, format: 'pem' }));

const subject: SealSubject = {
  namespace: 'ns',
  name: 'p',
  generateName: '',
  username: 'u',
  dryRun: false,
  changes: '[]',
  optOuts: undefined,
};

describe('tls/seal-keys', () => {
  it('derives one seal key per private key, whatever its PEM rendering, and a different one per key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const a = deriveSealKey(pem('pkcs8', privateKey));
    expect(deriveSealKey(pem('sec1', privateKey)).equals(a)).to.equal(true);
    expect(deriveSealKey(pem('pkcs8')).equals(a)).to.equal(false);
    expect(a).to.have.length(32);
  });

  it('two replicas serving the same pair recognise each other’s seals; after a renewal the old seal still counts', () => {
    const first = pem('pkcs8');
    const replicaA = createSealKeyRing();
    const replicaB = createSealKeyRing();
    replicaA.onPairLoaded({ key: first });
    replicaB.onPairLoaded({ key: first });
    const sealerA = createRecordSealer(replicaA.keys);
    const sealerB = createRecordSealer(replicaB.keys);
    const now = Date.now();
    const seal = sealerA.seal(subject, now);
    expect(sealerB.verify(subject, seal, now)).to.equal(true);

    replicaB.onPairLoaded({ key: pem('pkcs8') });
    expect(sealerB.verify(subject, seal, now), 'previous key accepted').to.equal(true);
    expect(sealerA.verify(subject, sealerB.seal(subject, now), now), 'not yet renewed').to.equal(false);
  });
});
