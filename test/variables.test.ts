import { expect } from 'chai';
import { parseConfig } from '../src/config/load.js';
import { resolveVariables } from '../src/config/variables.js';
import { MastodonCfnError, type Problem } from '../src/errors.js';

function resolve(yaml: string, options: Record<string, string> = {}, env: Record<string, string> = {}) {
  return resolveVariables(parseConfig(yaml, 'mastodon.config.yaml'), { options, env });
}

describe('variables', () => {
  it('takes CLI options, environment variables and defaults', () => {
    const { config, problems } = resolve("a: ${opt:stage, 'prod'}\nb: ${opt:stage, 'prod'}\nc: ${env:IMAGE, 'x:1'}\nd: ${env:IMAGE}\n", { stage: 'dev' }, { IMAGE: 'y:2' });
    expect(problems).to.deep.equal([]);
    expect(config).to.deep.equal({ a: 'dev', b: 'dev', c: 'y:2', d: 'y:2' });
    expect(resolve("a: ${opt:stage, 'prod'}").config).to.deep.equal({ a: 'prod' });
  });

  it('resolves ${self:} through other variables, keeping the type of a lone variable', () => {
    const { config } = resolve('custom:\n  port: 8000\n  hosts: [a, b]\n  domain: ${self:custom.base}\n  base: ex.com\nx: ${self:custom.port}\ny: ${self:custom.hosts}\nz: www.${self:custom.domain}:${self:custom.port}\n');
    expect(config).to.deep.include({ x: 8000, y: ['a', 'b'], z: 'www.ex.com:8000' });
  });

  it('falls back through a nested variable and reads typed defaults', () => {
    const { config } = resolve('a: ${opt:stage, ${env:STAGE, "dev"}}\nb: ${opt:n, 3}\nc: ${opt:flag, true}\nd: ${self:custom.${opt:which, \'x\'}}\ncustom: { x: 42 }\n', {}, { STAGE: 'qa' });
    expect(config).to.deep.equal({ a: 'qa', b: 3, c: true, d: 42, custom: { x: 42 } });
  });

  it('turns ${ssm:} into a CloudFormation dynamic reference, never a value read at build time', () => {
    expect(resolve('token: ${ssm:/blog/token}\n').config).to.deep.equal({ token: '{{resolve:ssm:/blog/token}}' });
  });

  it('reports a cycle once, where it closes', () => {
    const { problems } = resolve('a: ${self:b}\nb: ${self:c}\nc: ${self:a}\n');
    expect(problems).to.have.length(1);
    expect(problems[0]).to.include({ code: 'variables.cycle', path: 'a', line: 1, col: 4 });
    expect(problems[0].message).to.equal('circular reference: a → b → c → a');
  });

  it('reports every unresolvable variable at once, at its position', () => {
    const { problems } = resolve('a: ${env:NOPE}\nlist:\n  - ${opt:nope}\nb: ${foo:bar}\n');
    expect(problems.map((p) => [p.code, p.path, p.line, p.col])).to.deep.equal([
      ['variables.unresolved', 'a', 1, 4],
      ['variables.unresolved', 'list.0', 3, 5],
      ['variables.unknownSource', 'b', 4, 4],
    ]);
  });

  it('looks up only what the config, the options and the environment hold, never built-in properties', () => {
    const { problems } = resolve('a: ${self:constructor}\nb: ${env:toString}\nc: ${opt:hasOwnProperty}\nd: ${self:list.length}\nlist: [x]\n');
    expect(problems.map((p) => [p.code, p.path])).to.deep.equal([
      ['variables.unresolved', 'a'],
      ['variables.unresolved', 'b'],
      ['variables.unresolved', 'c'],
      ['variables.unresolved', 'd'],
    ]);
  });

  it('refuses variables that refer on too deep or expand too far, naming the key', () => {
    const chain = Array.from({ length: 40 }, (_, i) => `v${i}: \${self:v${i + 1}}\n`).join('') + 'v40: x\n';
    expect(() => resolve(chain)).to.throw(MastodonCfnError).with.property('problems').that.satisfies((problems: Problem[]) => problems.length === 1 && problems[0].code === 'variables.tooDeep' && problems[0].path === 'v16');
    const doubling = Array.from({ length: 25 }, (_, i) => `d${i + 1}: \${self:d${i}}\${self:d${i}}\n`).join('');
    expect(() => resolve(`d0: ab\n${doubling}`)).to.throw(MastodonCfnError).with.property('problems').that.satisfies((problems: Problem[]) => problems[0].code === 'variables.tooLarge' && problems[0].path === 'd17');
  });

  it('leaves strings without variables alone', () => {
    expect(resolve('a: "cost: $5 {x}"\n').config).to.deep.equal({ a: 'cost: $5 {x}' });
  });
});
