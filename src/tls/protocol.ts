/** The TLS versions and cipher suites the webhook serves; the config checks and the server both read them. */
export const TLS_MIN_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsMinVersion = (typeof TLS_MIN_VERSIONS)[number];

/**
 * TLS 1.2: only ECDHE key exchange with an AEAD cipher (AES-GCM, ChaCha20-Poly1305), for ECDSA and RSA
 * certificates, in the server's order of preference. No CBC, no SHA-1 MACs, no CCM8, no static RSA or
 * DHE key exchange. TLS 1.3: its three standard suites (all AEAD). The API server's Go client offers
 * all of these.
 */
export const DEFAULT_TLS_CIPHER_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
