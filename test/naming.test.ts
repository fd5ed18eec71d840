import { expect } from 'chai';
import { defaultRulePriority, Ids, makeNames, OutputIds, pascal } from '../src/compiler/naming.js';

/**
 * Renaming a logical id makes CloudFormation replace the resource; for the database that means
 * a new, empty cluster. These names are a contract with every deployed stack: change them only
 * with a migration.
 */
describe('naming', () => {
  it('keeps the logical ids of stateful and wired resources', () => {
    expect([Ids.DatabaseCluster, Ids.DatabaseInstance, Ids.Cache, Ids.MediaBucket, Ids.MastodonSecrets, Ids.SmtpCredentials]).to.deep.equal(['DatabaseCluster', 'DatabaseInstance', 'Cache', 'MediaBucket', 'MastodonSecrets', 'SmtpCredentials']);
    expect([Ids.MediaCertificateArnParameter, Ids.MastodonSecretsArnParameter, Ids.SmtpCredentialsArnParameter]).to.deep.equal(['MediaCertificateArn', 'MastodonSecretsArn', 'SmtpCredentialsArn']);
    // Secrets reach the main stack by a parameter named after them; the constants the compiler refers to are those names.
    const secrets = [Ids.MastodonSecrets, Ids.SmtpCredentials, Ids.DatabaseCredentials, Ids.CacheAuthToken];
    expect(secrets.map((id) => Ids.secretArn(id))).to.deep.equal([Ids.MastodonSecretsArnParameter, Ids.SmtpCredentialsArnParameter, Ids.DatabaseCredentialsArnParameter, Ids.CacheAuthTokenArnParameter]);
    expect(secrets.map((id) => Ids.existingSecretParameter(id))).to.deep.equal(['ExistingMastodonSecretsArn', 'ExistingSmtpCredentialsArn', 'ExistingDatabaseCredentialsArn', 'ExistingCacheAuthTokenArn']);
    expect(Ids.service('post-blog', 'Service')).to.equal('ServicePostBlogService');
    expect(Ids.publicSubnet(0)).to.equal('PublicSubnet1');
  });

  it("keeps the ids of a service's Mastodon token: its kept secret, the secret's ARN parameter, the readiness switch, the account task", () => {
    const token = Ids.service('post-blog', 'MastodonToken');
    expect([token, Ids.secretArn(token), Ids.existingSecretParameter(token)]).to.deep.equal(['ServicePostBlogMastodonToken', 'ServicePostBlogMastodonTokenArn', 'ExistingServicePostBlogMastodonTokenArn']);
    expect((['TokenMade', 'TokenExists', 'AccountTaskDefinition', 'AccountTaskRole'] as const).map((part) => Ids.service('post-blog', part))).to.deep.equal(['ServicePostBlogTokenMade', 'ServicePostBlogTokenExists', 'ServicePostBlogAccountTaskDefinition', 'ServicePostBlogAccountTaskRole']);
    expect(OutputIds.serviceAccountTaskDefinition('post-blog')).to.equal('ServicePostBlogAccountTaskDefinition');
    expect(makeNames('social', 'prod').secretName('post-blog-token')).to.equal('mastodon-cfn/social-prod/post-blog-token');
  });

  it('derives stack names, templates, tags, log groups and secret names from service and stage', () => {
    const names = makeNames('social', 'prod', { owner: 'ops' });
    expect(['main', 'secrets', 'certificates'].map((role) => names.stackName(role as 'main'))).to.deep.equal(['social-prod', 'social-prod-secrets', 'social-prod-certificates']);
    expect(names.templateFile('main')).to.equal('social-prod.template.json');
    expect(names.tags).to.deep.equal({ owner: 'ops', 'mastodon-cfn:service': 'social', 'mastodon-cfn:stage': 'prod' });
    expect(names.logGroup('mastodon')).to.equal('/mastodon-cfn/social-prod/mastodon');
    expect(names.secretName('mastodon')).to.equal('mastodon-cfn/social-prod/mastodon');
  });

  it('makes logical-id parts of DNS labels', () => {
    expect(pascal('postblog')).to.equal('Postblog');
    expect(pascal('my-blog-2')).to.equal('MyBlog2');
  });

  it('derives a stable listener rule priority from the name alone', () => {
    expect(defaultRulePriority('postblog')).to.equal(defaultRulePriority('postblog'));
    const priorities = ['a', 'b', 'postblog', 'comments', 'x'.repeat(32)].map(defaultRulePriority);
    for (const priority of priorities) expect(priority).to.be.within(1000, 41000);
    expect(new Set(priorities).size).to.equal(priorities.length);
  });
});
