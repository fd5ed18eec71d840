import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { MASTODON, MASTODON_SERIES, reservedOwnerUsernames, type MastodonSeries } from '../src/mastodon/facts.js';
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
    expect(JSON.stringify([main.WebTaskDefinition, main.SidekiqAllTaskDefinition])).to.not.include('OWNER_PASSWORD');
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
   * Mastodon cannot run here. These stand-ins of one release's app/models (Account.find_local,
   * UserRole.find_by, User.new(...).save, errors.full_messages, and the User methods the release has)
   * run the script a deploy would run, with real Ruby. Built from src/mastodon/facts.ts, they refuse
   * what that release refuses: an attribute its User does not have raises ActiveModel::UnknownAttributeError
   * (as ActiveModel::AttributeAssignment does), a method it does not have raises NoMethodError, and a
   * reserved username fails validation unless the release lets the registration bypass skip the check.
   */
  function standIns(series: MastodonSeries): string {
    const facts = MASTODON[series];
    const reserved = reservedOwnerUsernames(facts.latest);
    const words = (list: readonly string[]) => `%w(${list.join(' ')})`;
    return `
    $users = {}
    module ActiveModel
      class UnknownAttributeError < NoMethodError
        def initialize(record, attribute) = super("unknown attribute '#{attribute}' for #{record.class}.")
      end
    end
    class Errors; def initialize(list) = @list = list; def full_messages = @list; end
    class UserRole; Role = Struct.new(:id, :name); def self.find_by(name:) = (name == "Owner" ? Role.new(-99, "Owner") : nil); end
    class Account
      attr_reader :username; attr_accessor :user
      def initialize(username:) = @username = username
      def self.find_local(username) = $users[username.downcase]&.account
    end
    class User
      ATTRIBUTES = ${words(facts.owner.userAttributes)}.map(&:to_sym)
      RESERVED = ${words(reserved?.names ?? [])}
      attr_accessor :account, :confirmed_at; attr_reader :attributes, :approved, :confirmations
      def initialize(**attributes)
        unknown = attributes.keys.find { |name| !ATTRIBUTES.include?(name) }
        raise ActiveModel::UnknownAttributeError.new(self, unknown) if unknown
        @attributes = attributes; @confirmed_at = attributes[:confirmed_at]; @confirmations = 0
      end
      def errors
        list = []
        list << "Email has already been taken" if $users.values.any? { |u| u.attributes[:email] == @attributes[:email] }
        list << "Username is reserved" if account && RESERVED.include?(account.username.downcase)
        Errors.new(list)
      end
      def save
        return false unless errors.full_messages.empty?
        account.user = self
        $users[account.username.downcase] = self
        true
      end
      ${facts.owner.userMethods.includes('mark_email_as_confirmed!') ? 'def mark_email_as_confirmed! = (@confirmed_at = Time.now.utc; @confirmations += 1)' : ''}
      ${facts.owner.userMethods.includes('approve!') ? 'def approve! = @approved = true' : ''}
    end
  `;
  }
  /** The script the owner task of a build with this version runs. */
  const compiledScript = (version: string) => {
    const built = buildConfig({ yaml: minimalYaml(`mastodon: { version: ${version}, owner: { username: alice, email: alice@example.com } }\n`) });
    return built.resources().OwnerAccountTaskDefinition.Properties.ContainerDefinitions[0].Command[4] as string;
  };
  const run = (series: MastodonSeries, script: string, before = '', after = '', overrides: Record<string, string> = {}) =>
    spawnSync('ruby', ['-e', `${standIns(series)}\n${before}\nat_exit { ${after} }\n${script}`], { encoding: 'utf8', env: { ...process.env, ...env, ...overrides } });
  const env = { OWNER_USERNAME: 'alice', OWNER_EMAIL: 'alice@example.com', OWNER_PASSWORD: 'p4ssw0rdFromSecretsManagerXXXXXX' };

  /** The script every deploy ran before the facts module: 4.3's attribute, and a fallback to a `confirm!` no release has. */
  const SCRIPT_BEFORE_ISSUE_14 = [
    'username = ENV.fetch("OWNER_USERNAME")',
    'if Account.find_local(username)&.user',
    '  puts "Owner account @#{username} already exists: left as it is"',
    '  exit 0',
    'end',
    'role = UserRole.find_by(name: "Owner") or abort("Mastodon has no Owner role: run the migrations first (rails db:seed)")',
    'user = User.new(email: ENV.fetch("OWNER_EMAIL"), password: ENV.fetch("OWNER_PASSWORD"), agreement: true, role_id: role.id, confirmed_at: Time.now.utc, bypass_invite_request_check: true)',
    'user.account = Account.new(username: username)',
    'abort("Could not create @#{username}: #{user.errors.full_messages.join("; ")}") unless user.save',
    'user.confirmed_at = nil',
    'user.respond_to?(:mark_email_as_confirmed!) ? user.mark_email_as_confirmed! : user.confirm!',
    'user.approve!',
    'puts "Owner account @#{username} created"',
  ].join('\n');

  for (const series of MASTODON_SERIES) {
    const { latest, owner } = MASTODON[series];
    it(`creates a confirmed, approved Owner on ${latest} with the attributes that release's User takes, and never prints the password`, () => {
      const script = compiledScript(latest);
      expect(script).to.include(`${owner.bypassAttribute}: true`);
      const result = run(series, script, '', `u = $users["alice"]; STDERR.puts [u.attributes[:email], u.attributes[:password], u.attributes[:role_id], u.attributes[:agreement], u.attributes[:${owner.bypassAttribute}], u.confirmations, u.approved].inspect`);
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('Owner account @alice created\n');
      expect(result.stderr.trim()).to.equal('["alice@example.com", "p4ssw0rdFromSecretsManagerXXXXXX", -99, true, true, 1, true]');
      expect(result.stdout).to.not.include(env.OWNER_PASSWORD);
    });
  }

  it("the 4.4 and 4.5 stand-ins reject the script of before (bypass_invite_request_check was renamed), which 4.3's takes", () => {
    for (const series of ['4.4', '4.5'] as const) {
      const result = run(series, SCRIPT_BEFORE_ISSUE_14);
      expect(result.status, series).to.not.equal(0);
      expect(result.stderr).to.include("unknown attribute 'bypass_invite_request_check' for User. (ActiveModel::UnknownAttributeError)");
      expect(result.stdout).to.not.include('created');
    }
    expect(run('4.3', SCRIPT_BEFORE_ISSUE_14).stdout).to.equal('Owner account @alice created\n');
  });

  it("the 4.3 stand-in rejects 4.4's attribute, and no stand-in has a method its release does not have", () => {
    const result = run('4.3', compiledScript(MASTODON['4.4'].latest));
    expect(result.status).to.not.equal(0);
    expect(result.stderr).to.include("unknown attribute 'bypass_registration_checks' for User.");
    for (const series of MASTODON_SERIES) {
      const missing = run(series, 'User.new(email: "a@b.c").confirm!');
      expect(missing.stderr, series).to.match(/undefined method [`']confirm!' for .*User/);
    }
  });

  it('fails with Mastodon\'s reason for a reserved username where the release checks it for the owner, as the build does', () => {
    const reserved = run('4.3', compiledScript(MASTODON['4.3'].latest), '', '', { OWNER_USERNAME: 'admin' });
    expect(reserved.status).to.equal(1);
    expect(reserved.stderr).to.include('Could not create @admin: Username is reserved');
    // 4.5 lets the registration bypass skip its username blocks (app/models/account.rb at v4.5.2).
    expect(run('4.5', compiledScript(MASTODON['4.5'].latest), '', '', { OWNER_USERNAME: 'admin' }).stdout).to.equal('Owner account @admin created\n');
    expect(() => buildConfig({ yaml: minimalYaml(`mastodon: { version: ${MASTODON['4.3'].latest}, owner: { username: admin, email: admin@example.com } }\n`) })).to.throw(/reserves the username "admin"/);
    expect(() => buildConfig({ yaml: minimalYaml(`mastodon: { version: ${MASTODON['4.5'].latest}, owner: { username: admin, email: admin@example.com } }\n`) })).to.not.throw();
  });

  it('leaves an account that already exists alone, and fails with Mastodon\'s reasons (never the password) when it cannot create one', () => {
    const script = compiledScript(MASTODON['4.5'].latest);
    const existing = run('4.5', script, 'u = User.new(email: "old@example.com"); u.account = Account.new(username: "alice"); u.save', 'STDERR.puts $users.size');
    expect([existing.status, existing.stdout, existing.stderr.trim()]).to.deep.equal([0, 'Owner account @alice already exists: left as it is\n', '1']);
    const taken = run('4.5', script, 'u = User.new(email: "alice@example.com"); u.account = Account.new(username: "bob"); u.save');
    expect(taken.status).to.equal(1);
    expect(taken.stderr).to.include('Could not create @alice: Email has already been taken');
    expect(taken.stdout + taken.stderr).to.not.include(env.OWNER_PASSWORD);
  });
});
