import { randomBytes } from 'node:crypto';
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CertificateFiles, PemKeyPair } from './self-signed.js';

const DATA_LINK = '..data';
const FILES = { cert: 'tls.crt', key: 'tls.key' } as const;

async function readlinkOrUndefined(file: string): Promise<string | undefined> {
  try {
    return await readlink(file);
  } catch {
    return undefined;
  }
}

/** Points `link` at `target` with a rename, so the link is never missing or half made. */
async function swapSymlink(link: string, target: string): Promise<void> {
  if ((await readlinkOrUndefined(link)) === target) return;
  const temp = `${link}.${randomBytes(6).toString('hex')}.tmp`;
  await symlink(target, temp);
  try {
    await rename(temp, link);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Where the self-managed serving pair lives; see certificateDirectory. */
export interface CertificateDirectory extends CertificateFiles {
  readonly dir: string;
  write(pair: PemKeyPair): Promise<void>;
}

/**
 * A directory that serving pairs are written into the way the kubelet updates a Secret volume: each pair
 * goes into a new hidden version directory, then one rename swaps the `..data` symlink to it.
 * `tls.crt` and `tls.key` are symlinks through `..data`, so both change in that one rename: a reader
 * never sees a partial file, and mixes an old and a new file only if the swap falls between its two
 * opens (the server then keeps its pair and loads the new one on its next check; the self-managed shell
 * also asks for a reload once a write is complete). The previous version is kept until the next write,
 * so a reader that resolved the old link just before the swap can still finish. Only version directories
 * this writer made are removed, so two processes pointed at one directory cannot delete each other's.
 */
export function certificateDirectory(dir: string): CertificateDirectory {
  const certFile = path.join(dir, FILES.cert);
  const keyFile = path.join(dir, FILES.key);
  // Oldest first; the last one is what ..data points at.
  const versions: string[] = [];

  return {
    dir,
    certFile,
    keyFile,
    async write(pair) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const version = `..${new Date().toISOString().replace(/[-:.]/g, '')}.${randomBytes(4).toString('hex')}`;
      const versionDir = path.join(dir, version);
      await mkdir(versionDir, { mode: 0o700 });
      await writeFile(path.join(versionDir, FILES.key), pair.keyPem, { mode: 0o600, flag: 'wx' });
      await writeFile(path.join(versionDir, FILES.cert), pair.certPem, { mode: 0o644, flag: 'wx' });
      await swapSymlink(path.join(dir, DATA_LINK), version);
      versions.push(version);
      // Replaces regular files left by an older layout, once; afterwards these links never change.
      await swapSymlink(certFile, path.join(DATA_LINK, FILES.cert));
      await swapSymlink(keyFile, path.join(DATA_LINK, FILES.key));
      while (versions.length > 2) {
        const old = versions.shift();
        if (old !== undefined) await rm(path.join(dir, old), { recursive: true, force: true });
      }
    },
  };
}
