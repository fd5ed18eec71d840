import { runProcess, type CliResult } from './build.js';
import { MASTODON, RETENTION_DEFAULTS, RETENTION_SETTINGS, reservedOwnerUsernames, type MastodonSeries } from '../../src/mastodon/facts.js';

const words = (list: readonly string[]) => `%w(${list.join(' ')})`;

/**
 * Mastodon cannot run here. This stand-in of one release's models, in real Ruby, is what a
 * `rails runner` script of that release talks to: Account.find_local; User.new(...).save with
 * Devise's confirmation mail unless confirmed_at is set, `before_create :set_approved` (false while
 * registrations are not open), approve! and mark_email_as_confirmed! that queue the welcome mail
 * (prepare_new_user!), update!, functional?, applications and token_for_app (Mastodon's own body);
 * Doorkeeper::Application with `enforce_configured_scopes`; Doorkeeper::AccessToken.find_or_create_by.
 * Built from src/mastodon/facts.ts, it refuses what the release refuses: an attribute its User or
 * Application lacks raises ActiveModel::UnknownAttributeError, a method its User lacks NoMethodError,
 * a scope outside its doorkeeper.rb fails validation ("Scopes doesn't match configured on the server."),
 * a reserved username fails unless the release lets the registration bypass skip the check.
 * Setting[]= stores a value through YAML as app/models/setting.rb does (so a String stays a String, which
 * ContentRetentionPolicy, with Mastodon's own body, then ignores) and refuses a name the release never reads,
 * which the real one would store to no effect; Setting[] falls back to config/settings.yml's defaults.
 * Its records survive between runs in the Marshal file STANDIN_STATE; it writes nothing else.
 */
export function mastodonStandIn(series: MastodonSeries): string {
  const facts = MASTODON[series];
  const reserved = reservedOwnerUsernames(facts.latest);
  const userAttributes = [...new Set([...facts.owner.userAttributes, ...facts.serviceAccount.userAttributes])];
  const userMethods = new Set([...facts.owner.userMethods, ...facts.serviceAccount.userMethods]);
  const method = (name: string, body: string) => (userMethods.has(name) ? body : '');
  return String.raw`
require "securerandom"
module ActiveModel
  class UnknownAttributeError < NoMethodError
    def initialize(record, attribute) = super("unknown attribute '#{attribute}' for #{record.class}.")
  end
end
module Mastodon; module Version; def self.to_s = "${facts.latest.slice(1)}"; end; end
class Errors; def initialize(list) = @list = list; def full_messages = @list; def empty? = @list.empty?; end
$db = { users: {}, applications: [], tokens: [], mails: [], next_id: 1 }
def next_id = ($db[:next_id] += 1)
def check_attributes(record, known, attributes)
  unknown = attributes.keys.find { |name| !known.include?(name) }
  raise ActiveModel::UnknownAttributeError.new(record, unknown) if unknown
end

module Doorkeeper
  module OAuth
    class Scopes
      def initialize(list) = @list = list
      def exists?(scope) = @list.include?(scope.to_s)
      def to_s = @list.join(" ")
    end
  end
  Config = Struct.new(:scopes, :access_token_expires_in) { def refresh_token_enabled? = false }
  SERVER_SCOPES = ${words(facts.oauth.scopes)}
  def self.configuration = Config.new(OAuth::Scopes.new(SERVER_SCOPES), nil)

  class Application
    ATTRIBUTES = ${words(facts.serviceAccount.applicationAttributes)}.map(&:to_sym)
    attr_reader :owner, :id
    def initialize(owner:, **attributes)
      check_attributes(self, ATTRIBUTES, attributes)
      @owner = owner; @attributes = attributes
    end
    def name = @attributes[:name]
    def scopes = OAuth::Scopes.new(@attributes[:scopes].to_s.split)
    def errors
      list = []
      list << "Name can't be blank" if name.to_s.empty?
      list << "Name is too long (maximum is 60 characters)" if name.to_s.length > 60
      list << "Redirect URI can't be blank" if @attributes[:redirect_uri].to_s.empty?
      list << "Scopes doesn't match configured on the server." unless @attributes[:scopes].to_s.split.all? { |s| SERVER_SCOPES.include?(s) }
      Errors.new(list)
    end
    def save
      return false unless errors.empty?
      @id ||= next_id
      $db[:applications] << self unless $db[:applications].include?(self)
      true
    end
    def update(**attributes)
      check_attributes(self, ATTRIBUTES, attributes)
      before = @attributes.dup
      @attributes = @attributes.merge(attributes)
      return (@attributes = before; false) unless errors.empty?
      @scopes_previously_changed = before[:scopes] != @attributes[:scopes]
      true
    end
    def scopes_previously_changed? = @scopes_previously_changed
  end

  class AccessToken
    attr_reader :application_id, :resource_owner_id, :token
    attr_accessor :scopes, :expires_in, :use_refresh_token
    def initialize(application_id:, resource_owner_id:) = (@application_id, @resource_owner_id = application_id, resource_owner_id)
    def self.find_or_create_by(application_id:, resource_owner_id:)
      found = $db[:tokens].find { |t| t.application_id == application_id && t.resource_owner_id == resource_owner_id }
      return found if found
      token = new(application_id: application_id, resource_owner_id: resource_owner_id)
      yield token
      token.instance_variable_set(:@token, SecureRandom.urlsafe_base64(32))
      $db[:tokens] << token
      token
    end
    def revoke = @revoked = true
    ${facts.serviceAccount.accessTokenMethods.includes('accessible?') ? 'def accessible? = !@revoked' : ''}
    ${facts.serviceAccount.accessTokenMethods.includes('destroy') ? 'def destroy = $db[:tokens].delete(self)' : ''}
  end
end

require "yaml"
class Setting
  KNOWN = ${words(Object.values(RETENTION_SETTINGS))}
  DEFAULTS = { ${Object.entries(RETENTION_DEFAULTS).map(([name, days]) => `"${name}" => ${days}`).join(', ')} }
  def self.[](name) = ($db[:settings] || {}).fetch(name.to_s) { DEFAULTS[name.to_s] }
  def self.[]=(name, value)
    raise ArgumentError, "#{name} is not a setting Mastodon ${facts.latest} reads" unless KNOWN.include?(name.to_s)
    ($db[:settings] ||= {})[name.to_s] = YAML.safe_load(value.to_yaml)
  end
end
class ContentRetentionPolicy
  def self.current = new
  Setting::KNOWN.each { |name| define_method(name) { retention_period(Setting[name]) } }
  private def retention_period(value) = (value if value.is_a?(Integer) && value.positive?)
end

class Account
  attr_reader :username; attr_accessor :user
  def initialize(username:) = @username = username
  def self.find_local(username) = $db[:users][username.downcase]&.account
end

class ApplicationRelation
  def initialize(owner) = @owner = owner
  def find_by(name:) = $db[:applications].find { |a| a.owner.id == @owner.id && a.name == name }
  def build(**attributes) = Doorkeeper::Application.new(owner: @owner, **attributes)
end

class User
  ATTRIBUTES = ${words(userAttributes)}.map(&:to_sym)
  COLUMNS = %i(email approved confirmed_at role_id disabled)
  RESERVED = ${words(reserved?.names ?? [])}
  attr_accessor :account; attr_reader :attributes, :id
  def initialize(**attributes)
    check_attributes(self, ATTRIBUTES, attributes)
    @attributes = attributes
  end
  def approved? = !!@attributes[:approved]
  def confirmed? = !!@attributes[:confirmed_at]
  def errors
    list = []
    list << "Email has already been taken" if $db[:users].values.any? { |u| u.attributes[:email] == @attributes[:email] }
    list << "Username has already been taken" if account && $db[:users].key?(account.username.downcase)
    list << "Username is reserved" if account && RESERVED.include?(account.username.downcase)
    list << "Agreement must be accepted" unless @attributes[:agreement] == true
    list << "Password is too short (minimum is 8 characters)" if @attributes[:password].to_s.length < 8
    list << "Password is too long (maximum is 72 characters)" if @attributes[:password].to_s.length > 72
    Errors.new(list)
  end
  def save
    return false unless errors.empty?
    @attributes[:approved] = false
    $db[:mails] << [:confirmation_instructions, @attributes[:email]] unless confirmed?
    @id = next_id
    account.user = self
    $db[:users][account.username.downcase] = self
    true
  end
  def prepare_new_user! = $db[:mails] << [:welcome, @attributes[:email]]
  ${method('update!', 'def update!(**attributes) = (check_attributes(self, COLUMNS, attributes); @attributes.merge!(attributes); true)')}
  ${method('mark_email_as_confirmed!', 'def mark_email_as_confirmed! = (new_user = !confirmed?; @attributes[:confirmed_at] = Time.now.utc; prepare_new_user! if new_user && approved?)')}
  ${method('approve!', 'def approve! = (return if approved?; @attributes[:approved] = true; prepare_new_user! if confirmed?)')}
  ${method('applications', 'def applications = ApplicationRelation.new(self)')}
  ${method('functional?', 'def functional? = confirmed? && approved? && !@attributes[:disabled]')}
  ${method(
    'token_for_app',
    `def token_for_app(app)
    return nil if app.nil? || app.owner != self

    Doorkeeper::AccessToken.find_or_create_by(application_id: app.id, resource_owner_id: id) do |t|
      t.scopes            = app.scopes
      t.expires_in        = Doorkeeper.configuration.access_token_expires_in
      t.use_refresh_token = Doorkeeper.configuration.refresh_token_enabled?
    end
  end`,
  )}
end

if (state = ENV["STANDIN_STATE"])
  $db = Marshal.load(File.binread(state)) if File.exist?(state)
  at_exit { File.binwrite(state, Marshal.dump($db)) }
end
`;
}

/** Runs Ruby without blocking this process (stand-in servers of the test answer it meanwhile). */
export function runRuby(code: string, env: Record<string, string | undefined>): Promise<CliResult> {
  return runProcess('ruby', ['-e', code], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
}
