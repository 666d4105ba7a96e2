// The benchmark's baseline: the webhook's HTTPS stack with no webhook behind it. It listens through the
// production build's startServer (same TLS options, timeouts and keep-alive as the webhook) and parses
// bodies with the same express.json settings as src/http/app.ts, then answers every AdmissionReview
// with a constant "allowed" response that echoes the uid. What it costs is the floor any webhook on
// this stack pays: TLS, HTTP, JSON in and out.
//
// Plain JavaScript on purpose: it runs under bare `node`, like dist/cli.js, so neither process carries
// a TypeScript loader (tsx adds a loader thread and about 50 MB of RSS).
//
// Usage: node bench/null-server.js --port PORT --tls-cert FILE --tls-key FILE [--host 127.0.0.1]
import process from 'node:process';
import { parseArgs } from 'node:util';
import express from 'express';
import { createMetrics } from '../dist/metrics/index.js';
import { startServer } from '../dist/http/server.js';
import { createLogger } from '../dist/logger.js';

const MAX_BODY_BYTES = 3 * 1024 * 1024;

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
  strict: true,
});
const certFile = values['tls-cert'];
const keyFile = values['tls-key'];
if (values.port === undefined || certFile === undefined || keyFile === undefined) {
  process.stderr.write('usage: null-server.js --port PORT --tls-cert FILE --tls-key FILE\n');
  process.exit(2);
}

const logger = createLogger('warn');
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
const parseJson = express.json({ limit: MAX_BODY_BYTES, type: () => true, strict: false, inflate: false });

app.post('/mutate', parseJson, (req, res) => {
  const uid = req.body?.request?.uid;
  if (typeof uid !== 'string') {
    res.status(400).json({ error: 'request.uid must be a string' });
    return;
  }
  res.status(200).json({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, allowed: true },
  });
});
app.get('/healthz', (_req, res) => {
  res.status(200).json({ status: 'ok' });
});

const running = await startServer({
  app,
  port: Number(values.port),
  host: values.host,
  certFile,
  keyFile,
  reloadIntervalSeconds: 10,
  shutdownDelaySeconds: 0,
  logger,
  metrics: createMetrics(),
});

const stop = () => {
  void running.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
