/**
 * The seal on our changes record. A pod author writes every annotation of a CREATE, ours included, so
 * the `changes` record the webhook finds on a pod is only evidence of an earlier pass (reinvocation)
 * when it carries a seal: an HMAC, under a key only the webhook's replicas hold, of the record, the
 * opt-outs annotation and the request it was written for (namespace, name, user, dry run, time).
 *
 * An unsealed or stale record is the pod author's: it is never read, and enforce mode removes it. A
 * sealed record can only be replayed by the same user into a pod of the same name within
 * MAX_SEAL_AGE_SECONDS, and then it only carries over a record the webhook really wrote.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const VERSION = 'v1';
/** A request's passes all happen within the API server's request timeout (60 s by default). */
export const MAX_SEAL_AGE_SECONDS = 120;
/** Replicas' clocks may differ a little. */
const MAX_CLOCK_SKEW_SECONDS = 30;
const SEAL_PATTERN = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/** What a seal binds the record to. */
export interface SealSubject {
  readonly namespace: string;
  readonly name: string;
  readonly generateName: string;
  readonly username: string;
  readonly dryRun: boolean;
  /** The `changes` annotation's text. */
  readonly changes: string;
  /** The `opt-outs` annotation's text, if any. */
  readonly optOuts: string | undefined;
}

/** The key new seals are made with, and every key a seal is accepted under (the signing key first). */
export interface SealKeys {
  readonly signing: Uint8Array;
  readonly accepted: readonly Uint8Array[];
}

export interface RecordSealer {
  seal(subject: SealSubject, nowMs: number): string;
  verify(subject: SealSubject, seal: string | undefined, nowMs: number): boolean;
}

/** A raw key is imported again on every createHmac; a KeyObject once, which saves about a third of a seal. */
const keyObjects = new WeakMap<Uint8Array, KeyObject>();
function keyObject(key: Uint8Array): KeyObject {
  let object = keyObjects.get(key);
  if (object === undefined) {
    object = createSecretKey(key);
    keyObjects.set(key, object);
  }
  return object;
}

function mac(key: Uint8Array, subject: SealSubject, issuedAt: number): Buffer {
  const { namespace, name, generateName, username, dryRun, changes, optOuts } = subject;
  // A JSON array leaves no ambiguity about where one field ends and the next begins.
  const input = JSON.stringify([
    VERSION,
    issuedAt,
    namespace,
    name,
    generateName,
    username,
    dryRun,
    changes,
    optOuts ?? null,
  ]);
  return createHmac('sha256', keyObject(key)).update(input).digest();
}

/** `keys` is read on every call, so the caller can rotate them (the serving key renews). */
export function createRecordSealer(keys: () => SealKeys): RecordSealer {
  return {
    seal(subject, nowMs) {
      const issuedAt = Math.floor(nowMs / 1000);
      return `${VERSION}.${issuedAt}.${mac(keys().signing, subject, issuedAt).toString('base64url')}`;
    },
    verify(subject, seal, nowMs) {
      if (seal === undefined) return false;
      const match = SEAL_PATTERN.exec(seal);
      if (match === null) return false;
      const issuedAt = Number(match[1]);
      const age = nowMs / 1000 - issuedAt;
      if (age > MAX_SEAL_AGE_SECONDS || age < -MAX_CLOCK_SKEW_SECONDS) return false;
      const given = Buffer.from(match[2] ?? '', 'base64url');
      return keys().accepted.some((key) => {
        const expected = mac(key, subject, issuedAt);
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
    },
  };
}

/** A key of this process alone: right for one replica, and for tests. Replicas share a derived key. */
export function randomSealKeys(): SealKeys {
  const key = randomBytes(32);
  return { signing: key, accepted: [key] };
}
