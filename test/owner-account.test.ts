import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { OWNER_ACCOUNT_SCRIPT } from '../src/compiler/compute.js';
import { buildConfig, minimalYaml } from './support/build.js';

const OWNER = 'mastodon: { owner: { username: alice, email: alice@example.com } }\n';

describe('the owner account from the config', () => {
  it('keeps its password in a kept secret made by CloudFormation, within the 8 to 72 characters Mastodon takes (config/initializers/devise.rb)', () => {
    const built = buildConfig({ yaml: minimalYaml(OWNER) });
    const secret = built.resources('secrets').OwnerPassword;
    expect(secret.Properties.Name).to.equal('mastodon-cfn/social-prod/owner');
    expect([secret.DeletionPolicy, secret.UpdateReplacePolicy]).to.deep.equal(['Retain', 'Retain']);
    expect(secret.Properties.GenerateSecretString).to.deep.equal({ SecretStringTemplate: '{}', GenerateStringKey: 'password', PasswordLength: 32, ExcludePunctuation: true });
    expect(built.manifest.stacks[1].reusableSecrets.map((s) => s.name)).to.include('mastodon-cfn/social-prod/owner');
  });

  it('creates it in a task of its own, the password given as an ECS secret and never in the environment or a command', () => {
    const built = buildConfig({ yaml: minimalYaml(OWNER) });
    const main = built.resources();
    const [owner] = main.OwnerAccountTaskDefinition.Properties.ContainerDefinitions;
    expect(owner.Command.slice(0, 4)).to.deep.equal(['bundle', 'exec', 'rails', 'runner']);
    const environment = Object.fromEntries(owner.Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]));
    expect(environment).to.include({ OWNER_USERNAME: 'alice', OWNER_EMAIL: 'alice@example.com', LOCAL_DOMAIN: 'social.example.com' });
    expect(environment).to.not.have.property('OWNER_PASSWORD');
    expect(owner.Secrets).to.deep.include({ Name: 'OWNER_PASSWORD', ValueFrom: { 'Fn::Join': ['', [{ Ref: 'OwnerPasswordArn' }, ':password::']] } });
    expect(JSON.stringify(main.MastodonExecutionRole)).to.include('"Ref":"OwnerPasswordArn"');
    // Only the owner task can read it: the processes that serve users never get it.
    expect(JSON.stringify(main.MastodonTaskDefinition)).to.not.include('OWNER_PASSWORD');
    expect(built.manifest.stacks[2].ownerAccount).to.deep.include({ username: 'alice', email: 'alice@example.com', passwordSecret: 'mastodon-cfn/social-prod/owner', container: 'owner', capacityProvider: 'FARGATE' });
    expect(built.manifest.stacks[2].ownerAccount!.outputs.taskDefinition).to.equal('OwnerAccountTaskDefinition');
  });

  it('is created only by a deploy that runs Mastodon (not in maintenance mode), and not at all without the key', () => {
    expect(buildConfig({ yaml: minimalYaml('mastodon: { mode: maintenance, owner: { username: alice, email: alice@example.com } }\n') }).manifest.stacks[2]).to.not.have.property('ownerAccount');
    const without = buildConfig({ yaml: minimalYaml() });
    expect(without.resources()).to.not.have.property('OwnerAccountTaskDefinition');
    expect(without.resources('secrets')).to.not.have.property('OwnerPassword');
  });

  /**
   * Mastodon cannot run here. These stand-ins have the shapes the script relies on, as in Mastodon's
   * app/models (Account.find_local, UserRole.find_by, User.new(...).save, errors.full_messages,
   * mark_email_as_confirmed!, approve!) and run the script with real Ruby.
   */
  const STAND_INS = `
    $users = {}
    class Errors; def initialize(list) = @list = list; def full_messages = @list; end
    class UserRole; Role = Struct.new(:id, :name); def self.find_by(name:) = (name == "Owner" ? Role.new(-99, "Owner") : nil); end
    class Account
      attr_reader :username; attr_accessor :user
      def initialize(username:) = @username = username
      def self.find_local(username) = $users[username.downcase]&.account
    end
    class User
      attr_accessor :account, :confirmed_at; attr_reader :attributes, :approved, :confirmations
      def initialize(**attributes) = (@attributes = attributes; @confirmed_at = attributes[:confirmed_at]; @confirmations = 0)
      def errors = Errors.new($users.values.any? { |u| u.attributes[:email] == @attributes[:email] } ? ["Email has already been taken"] : [])
      def save
        return false unless errors.full_messages.empty?
        account.user = self
        $users[account.username.downcase] = self
        true
      end
      def mark_email_as_confirmed! = (@confirmed_at = Time.now.utc; @confirmations += 1)
      def approve! = @approved = true
    end
  `;
  const run = (before: string, after: string, env: Record<string, string>) =>
    spawnSync('ruby', ['-e', `${STAND_INS}\n${before}\nat_exit { ${after} }\n${OWNER_ACCOUNT_SCRIPT}`], { encoding: 'utf8', env: { ...process.env, ...env } });
  const env = { OWNER_USERNAME: 'alice', OWNER_EMAIL: 'alice@example.com', OWNER_PASSWORD: 'p4ssw0rdFromSecretsManagerXXXXXX' };

  it('creates a confirmed, approved Owner with the password from the secret, and never prints it', () => {
    const result = run('', 'u = $users["alice"]; STDERR.puts [u.attributes[:email], u.attributes[:password], u.attributes[:role_id], u.attributes[:agreement], u.attributes[:bypass_invite_request_check], u.confirmations, u.approved].inspect', env);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.equal('Owner account @alice created\n');
    expect(result.stderr.trim()).to.equal('["alice@example.com", "p4ssw0rdFromSecretsManagerXXXXXX", -99, true, true, 1, true]');
    expect(result.stdout).to.not.include(env.OWNER_PASSWORD);
  });

  it('leaves an account that already exists alone, and fails with Mastodon\'s reasons (never the password) when it cannot create one', () => {
    const existing = run('u = User.new(email: "old@example.com"); u.account = Account.new(username: "alice"); u.save', 'STDERR.puts $users.size', env);
    expect([existing.status, existing.stdout, existing.stderr.trim()]).to.deep.equal([0, 'Owner account @alice already exists: left as it is\n', '1']);
    const taken = run('u = User.new(email: "alice@example.com"); u.account = Account.new(username: "bob"); u.save', '', env);
    expect(taken.status).to.equal(1);
    expect(taken.stderr).to.include('Could not create @alice: Email has already been taken');
    expect(taken.stdout + taken.stderr).to.not.include(env.OWNER_PASSWORD);
  });
});
