/**
 * The keys that seal our changes record (engine/record/seal.ts), derived from the serving private key.
 * Every replica serves the same key pair (one Secret, in self-managed and cert-manager modes alike), so
 * every replica derives the same seal key with no extra secret to distribute; HKDF with a label of
 * its own keeps the derived key useless for anything else. After a renewal the previous key is still
 * accepted, so a request whose passes straddle the reload is still recognised.
 */
import { createPrivateKey, hkdfSync } from 'node:crypto';
import { randomSealKeys, type SealKeys } from '../engine/index.js';

const LABEL = 'pod-hardener changes record seal v1';

export function deriveSealKey(privateKeyPem: Buffer): Buffer {
  // DER, so two PEM renderings of one key derive the same seal key.
  const der = createPrivateKey(privateKeyPem).export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', der, Buffer.alloc(0), LABEL, 32));
}

export interface SealKeyRing {
  readonly keys: () => SealKeys;
  /** Give it every serving pair the server loads (StartServerOptions.onPairLoaded). */
  readonly onPairLoaded: (pair: { readonly key: Buffer }) => void;
}

/** Until the first pair is loaded (the server loads it before listening) a random key stands in. */
export function createSealKeyRing(): SealKeyRing {
  let current: SealKeys = randomSealKeys();
  return {
    keys: () => current,
    onPairLoaded(pair) {
      const next = deriveSealKey(pair.key);
      if (next.equals(current.signing)) return;
      current = { signing: next, accepted: [next, current.signing] };
    },
  };
}
