import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './support/build.js';
import { DEFAULT_REGION, DEFAULT_STAGE } from '../src/config/types.js';

type SchemaNode = { description?: string; default?: unknown; examples?: unknown[]; properties?: Record<string, SchemaNode>; definitions?: Record<string, SchemaNode>; additionalProperties?: unknown; $ref?: string };

const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'schema/mastodon.config.schema.json'), 'utf8')) as SchemaNode;

/** A node with its `$ref` followed (#/definitions/NAME), keeping the node's own description and examples over the definition's. */
function resolved(node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const { $ref, ...own } = node;
  return { ...schema.definitions![$ref.replace('#/definitions/', '')], ...own };
}

/** The maps whose entries are configured things (each service, each Sidekiq group), documented like keys. */
const MAPS = new Set(['services', 'mastodon.sidekiq.groups']);

/** Every key, a map's entries as `*`. */
function keys(node: SchemaNode, path: string): [string, SchemaNode][] {
  const map = MAPS.has(path.slice(0, -1)) && node.additionalProperties && typeof node.additionalProperties === 'object';
  const entries = map ? resolved(node.additionalProperties as SchemaNode) : undefined;
  return [
    ...Object.entries(node.properties ?? {}).flatMap(([key, child]) => [[`${path}${key}`, resolved(child)] as [string, SchemaNode], ...keys(resolved(child), `${path}${key}.`)]),
    ...(entries?.properties ? keys(entries, `${path}*.`) : []),
  ];
}

describe('schema', () => {
  const documented = keys(schema, '');

  it('documents every key with a description and an example', () => {
    expect(documented.length).to.be.above(50);
    for (const [key, node] of documented) {
      expect(node.description, key).to.be.a('string').and.not.empty;
      expect(node.examples, key).to.be.an('array').and.not.empty;
    }
  });

  it('gives every key a default, or says in its description how its default is derived or why it has none', () => {
    for (const [key, node] of documented) {
      if ('default' in node) continue;
      expect(node.description, key).to.match(/Defaults to |Default: |No default: required/);
    }
  });

  it('rejects unknown keys in every section that is not free-form', () => {
    const freeForm = new Set(['custom', 'params', 'resources.extensions', 'provider.tags', 'mastodon.environment', 'mastodon.secrets', 'services', 'mastodon.sidekiq.groups', 'mastodon.sidekiq.groups.*.queues', 'resources.Resources', 'resources.Outputs', 'resources.Conditions', 'services.*.environment', 'services.*.secrets']);
    expect(schema.additionalProperties).to.equal(false);
    for (const [key, node] of documented) {
      if ((node as { type?: string }).type === 'object' && !freeForm.has(key)) expect(node.additionalProperties, key).to.equal(false);
    }
  });

  it('gives ${sls:stage} and ${aws:region} the defaults the schema gives provider.stage and provider.region', () => {
    const provider = (schema.properties as Record<string, SchemaNode>).provider.properties as Record<string, { default?: unknown }>;
    expect([provider.stage.default, provider.region.default]).to.deep.equal([DEFAULT_STAGE, DEFAULT_REGION]);
  });

  it('is the schema the shipped config points editors at', () => {
    const firstLine = readFileSync(join(REPO_ROOT, 'mastodon.config.yaml'), 'utf8').split('\n')[0];
    expect(firstLine).to.equal('# yaml-language-server: $schema=./schema/mastodon.config.schema.json');
  });
});
