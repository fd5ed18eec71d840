import type { SeriesFacts } from './facts.js';

/** What the service-account script reads besides Mastodon's own environment (the compiler sets them; the deployer adds ROTATE_TOKEN). */
export const SERVICE_ACCOUNT_VARIABLES = {
  account: 'SERVICE_ACCOUNT',
  email: 'SERVICE_EMAIL',
  scopes: 'SERVICE_SCOPES',
  application: 'SERVICE_APPLICATION',
  secretArn: 'TOKEN_SECRET_ARN',
  rotate: 'ROTATE_TOKEN',
} as const;

const V = SERVICE_ACCOUNT_VARIABLES;

/**
 * The Ruby a one-off `rails runner` task runs to give a service its Mastodon token:
 *
 * - the account: found by username, or created as a confirmed, approved local account with a random
 *   password nobody ever sees, and no mail sent (facts.ts, ServiceAccountFacts.userMethods);
 * - its application: found by name among the account's own, or registered as
 *   Settings::ApplicationsController#create does; changed scopes are saved as #update does, which
 *   then destroys the token so that the next one carries them;
 * - the token: User#token_for_app, as the application's settings page shows it; on rotation (or
 *   when the one there is revoked or expired) it is destroyed first, as #regenerate does;
 * - the token is written to the secret with Secrets Manager's PutSecretValue, signed with the task
 *   role's credentials, and never reaches stdout, stderr, argv or the environment.
 *
 * A scope the release does not have stops it before anything is changed.
 */
export function serviceAccountScript(facts: SeriesFacts): string {
  return String.raw`
require "json"
require "net/http"
require "securerandom"
require "aws-sigv4"
require "aws-sdk-core"

username = ENV.fetch("${V.account}")
scopes = ENV.fetch("${V.scopes}").split
application_name = ENV.fetch("${V.application}")
secret_arn = ENV.fetch("${V.secretArn}")
rotate = ENV["${V.rotate}"] == "true"

unknown = scopes.reject { |scope| Doorkeeper.configuration.scopes.exists?(scope) }
abort("Mastodon #{Mastodon::Version.to_s} has no OAuth scope #{unknown.join(", ")} (config/initializers/doorkeeper.rb): no token was made") unless unknown.empty?

user = Account.find_local(username)&.user
if user
  puts "Account @#{username} already exists: left as it is"
  warn "Account @#{username} is not confirmed, approved and enabled: Mastodon refuses its token until an administrator sees to it (Moderation, Accounts)" unless user.functional?
else
  # The password is never shown: the service acts only through its token.
  user = User.new(email: ENV.fetch("${V.email}"), password: SecureRandom.alphanumeric(64), agreement: true, confirmed_at: Time.now.utc, ${facts.owner.bypassAttribute}: true)
  user.account = Account.new(username: username)
  abort("Could not create @#{username}: #{user.errors.full_messages.join("; ")}") unless user.save
  user.update!(approved: true)
  puts "Account @#{username} created (confirmed and approved, no mail sent)"
end

application = user.applications.find_by(name: application_name)
if application.nil?
  application = user.applications.build(name: application_name, redirect_uri: "${facts.serviceAccount.redirectUri}", scopes: scopes.join(" "))
  abort("Could not register the application #{application_name}: #{application.errors.full_messages.join("; ")}") unless application.save
  puts "Application #{application_name} registered for @#{username} with scopes #{scopes.join(" ")}"
elsif application.scopes.to_s.split.sort != scopes.sort
  abort("Could not change the scopes of #{application_name}: #{application.errors.full_messages.join("; ")}") unless application.update(scopes: scopes.join(" "))
  user.token_for_app(application).destroy if application.scopes_previously_changed?
  puts "Application #{application_name}: scopes are now #{scopes.join(" ")}; its earlier token is destroyed"
end

token = user.token_for_app(application)
if rotate || !token.accessible?
  token.destroy
  token = user.token_for_app(application)
  puts "Token of #{application_name} replaced: the earlier one is destroyed"
end

# Credentials of the task role, from the container's credentials endpoint: given to the provider
# explicitly, as the bundled aws-sdk-core versions differ in which variables they read themselves.
endpoint = URI(ENV["AWS_CONTAINER_CREDENTIALS_FULL_URI"] || "http://169.254.170.2#{ENV.fetch("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")}")
credentials = Aws::ECSCredentials.new(ip_address: endpoint.host, port: endpoint.port, credential_path: endpoint.request_uri, retries: 3)
abort("No AWS credentials from the task's credentials endpoint: the token was not stored") unless credentials.set?
region = ENV.fetch("AWS_REGION")
url = URI(ENV.fetch("AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://secretsmanager.#{region}.amazonaws.com"))
body = JSON.generate(SecretId: secret_arn, SecretString: JSON.generate(token: token.token), ClientRequestToken: SecureRandom.uuid)
headers = { "Content-Type" => "application/x-amz-json-1.1", "X-Amz-Target" => "secretsmanager.PutSecretValue" }
signature = Aws::Sigv4::Signer.new(service: "secretsmanager", region: region, credentials_provider: credentials).sign_request(http_method: "POST", url: url.to_s, headers: headers, body: body)
request = Net::HTTP::Post.new(url.request_uri, headers.merge(signature.headers))
request.body = body
response = Net::HTTP.start(url.host, url.port, use_ssl: url.scheme == "https") { |http| http.request(request) }
unless response.code == "200"
  error = (JSON.parse(response.body) rescue {})
  abort("Secrets Manager refused to store the token in #{secret_arn}: HTTP #{response.code} #{error["__type"]} #{error["message"] || error["Message"]}".rstrip)
end
puts "Token of @#{username} (#{scopes.join(" ")}) stored in #{secret_arn}"
`.trimStart();
}
