/**
 * The chart's values.schema.json and the server's configuration loader must accept the same
 * configuration keys, in both directions, so the chart can neither refuse a key the server has nor
 * pass one it would refuse at start. Keys the chart sets itself (from tls.mode and its object names)
 * are listed here with where they come from, and must not be accepted under `config`.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { FILE_KEYS } from '../../src/config/sources.js';
import { PROFILE_KEYS } from '../../src/config/image-profiles.js';

const repoFile = (name: string): string => readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8');

interface Schema {
  properties: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  type?: string | string[];
}

const schema = JSON.parse(repoFile('charts/pod-hardener/values.schema.json')) as Schema;
const configSchema = schema.properties.config!;

/** The server's keys that the chart renders from other values; a user cannot set them under config. */
const SET_BY_CHART: Record<string, string> = {
  tlsMode: 'tls.mode (self-managed, or files for cert-manager and secret)',
  tlsCertFile: 'tls.mode cert-manager or secret: the mounted Secret',
  tlsKeyFile: 'tls.mode cert-manager or secret: the mounted Secret',
  tlsCertDir: 'tls.mode self-managed: the memory-backed /tmp',
  tlsSecretName: "the chart's <fullname>-tls, or tls.secretName",
  webhookConfigurationName: "the chart's fullname",
  tlsServiceName: "the chart's fullname",
  namespace: 'POD_HARDENER_NAMESPACE from the downward API',
  kubeconfig: 'in-cluster: the projected service account token',
};

/** The object schema inside a `type: [object, null]` or anyOf-with-null wrapper. */
function objectSchema(node: Schema): Schema {
  if (node.properties !== undefined) return node;
  const inner = node.anyOf?.find((alternative) => alternative.properties !== undefined || alternative.items);
  if (inner === undefined) throw new Error('no object schema');
  return inner;
}

function arrayItems(node: Schema): Schema {
  const list = node.items ?? node.anyOf?.find((alternative) => alternative.items !== undefined)?.items;
  if (list === undefined) throw new Error('no array schema');
  return list;
}

const ajv = new Ajv({ strict: false, allErrors: true });
const validate = ajv.compile(schema);
const defaults = parse(repoFile('charts/pod-hardener/values.yaml')) as Record<string, unknown>;

function withConfig(config: Record<string, unknown>): Record<string, unknown> {
  return { ...defaults, config: { ...(defaults.config as object), ...config } };
}

describe('chart: values.schema.json in step with the config loader', () => {
  it('config accepts exactly the file keys the loader accepts, minus the ones the chart sets', () => {
    const chartKeys = Object.keys(configSchema.properties);
    const loaderKeys = [...FILE_KEYS];
    expect(
      chartKeys.filter((key) => key in SET_BY_CHART),
      'keys the chart sets itself',
    ).to.be.empty;
    expect([...chartKeys, ...Object.keys(SET_BY_CHART)].sort()).to.deep.equal(loaderKeys.sort());
  });

  it('imageProfiles entries accept exactly the profile keys the loader accepts', () => {
    const profile = arrayItems(configSchema.properties.imageProfiles!);
    expect(Object.keys(profile.properties).sort()).to.deep.equal([...PROFILE_KEYS].sort());
  });

  it('config.resources accepts requests and limits of cpu and memory, which the loader reads', () => {
    const resources = objectSchema(configSchema.properties.resources!);
    const shape = Object.fromEntries(
      Object.entries(resources.properties).map(([group, inner]) => [group, Object.keys(inner.properties)]),
    );
    expect(shape).to.deep.equal({ requests: ['cpu', 'memory'], limits: ['cpu', 'memory'] });
    const config = loadConfig({
      env: {},
      argvFlags: { config: '/c.yaml' },
      readFile: () => 'resources: {requests: {cpu: 50m, memory: ""}, limits: {cpu: "1", memory: 1Gi}}',
    });
    expect(config.engine.resources).to.deep.equal({
      requests: { cpu: '50m', memory: null },
      limits: { cpu: '1', memory: '1Gi' },
    });
  });

  it('accepts the default values and the shipped example image profiles', () => {
    expect(validate(defaults), JSON.stringify(validate.errors)).to.equal(true);
    const examples = parse(repoFile('examples/image-profiles.yaml')) as { imageProfiles: unknown };
    const values = withConfig({
      imageProfiles: examples.imageProfiles,
      logLevel: 'debug',
      tlsMinVersion: 1.3,
    });
    expect(validate(values), JSON.stringify(validate.errors)).to.equal(true);
  });

  for (const [what, config] of [
    ['an unknown key', { logLevl: 'debug' }],
    ['a key the chart sets itself', { tlsMode: 'files' }],
    ['a UID of 0', { runAsUser: 0 }],
    ['an unknown control id', { disabledControls: ['no-root'] }],
    ['an unknown profile key', { imageProfiles: [{ name: 'a', images: ['a:*'], runAsUsr: 1 }] }],
    [
      'a profile keeping ALL capabilities',
      { imageProfiles: [{ name: 'a', images: ['a'], keepCapabilities: ['ALL'] }] },
    ],
    ['a profile without images', { imageProfiles: [{ name: 'a' }] }],
  ] as const) {
    it(`refuses ${what}`, () => {
      expect(validate(withConfig(config)), what).to.equal(false);
    });
  }
});
