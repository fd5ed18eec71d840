import type { Config } from '../config/types.js';
import { AccessKey, EmailIdentity, GetAtt, IamUser, Join, Ref, Secret, Sub, type Value } from './cfn.js';
import { mergeParts, type CompileStep, type Fragment } from './fragment.js';
import { Ids, OutputIds, type Names } from './naming.js';
import { secretsStackSecret } from './secrets.js';

export function mailDomain(config: Config): string {
  return config.mail.from.split('@')[1];
}

/** The MAIL FROM domain SES uses for bounces when DNS is managed, so that SPF aligns with the sender's domain. */
export const mailFromDomain = (config: Config) => `bounce.${mailDomain(config)}`;

/** ARN of the secret with the SMTP `username` and `password`. */
export function smtpSecretArn(config: Config): Value<string> {
  return config.mail.smtpSecretArn ?? Ref(Ids.SmtpCredentialsArnParameter);
}

/**
 * SES SMTP needs an IAM user's access key, and its SMTP password is derived from the secret key
 * (an HMAC chain CloudFormation cannot compute). The secrets stack keeps the key in Secrets
 * Manager; the deployer derives the password into the same secret once. Nothing is in a template.
 * The secret is derived from the access key, which dies with the stack: nothing in it is worth keeping.
 */
function createdSmtpCredentials(config: Config, names: Names): Fragment {
  const user: Fragment = {
    secrets: {
      Resources: {
        [Ids.SmtpUser]: new IamUser({
          Policies: [
            {
              PolicyName: 'send-mail',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [{ Effect: 'Allow', Action: 'ses:SendRawEmail', Resource: Sub(`arn:\${AWS::Partition}:ses:\${AWS::Region}:\${AWS::AccountId}:identity/${mailDomain(config)}`) }],
              },
            },
          ],
        }),
        [Ids.SmtpAccessKey]: new AccessKey({ UserName: Ref(Ids.SmtpUser) }),
      },
    },
  };
  const credentials = secretsStackSecret(names, {
    id: Ids.SmtpCredentials,
    description: 'the SES SMTP credentials (username, password)',
    secret: new Secret({
      Description: 'SES SMTP credentials for Mastodon; mastodon-cfn deploy derives `password` from `secretAccessKey` once',
      SecretString: Join('', ['{"username":"', Ref(Ids.SmtpAccessKey), '","secretAccessKey":"', GetAtt(Ids.SmtpAccessKey, 'SecretAccessKey'), '"}']),
    }),
    generator: 'ses-smtp-password',
  });
  return mergeParts(user, credentials);
}

export const compileMail: CompileStep = (config, names) => {
  const credentials: Fragment = config.mail.smtpSecretArn ? {} : createdSmtpCredentials(config, names);
  // With Route 53 the deploy writes these records itself (dns.ts).
  const dkimOutputs = config.dns ? {} : Object.fromEntries(
    [1, 2, 3].map((n) => [
      OutputIds.dkimRecord(n),
      {
        Description: `DKIM record ${n} of 3 for ${mailDomain(config)}: create this CNAME`,
        Value: Join(' ', [GetAtt(Ids.MailIdentity, `DkimDNSTokenName${n}`), 'CNAME', GetAtt(Ids.MailIdentity, `DkimDNSTokenValue${n}`)]),
      },
    ]),
  );
  const identity: Fragment = {
    main: {
      Resources: {
        [Ids.MailIdentity]: new EmailIdentity({
          EmailIdentity: mailDomain(config),
          DkimSigningAttributes: { NextSigningKeyLength: 'RSA_2048_BIT' },
          // Without its MX record SES falls back to amazonses.com as MAIL FROM rather than refusing to send.
          ...(config.dns ? { MailFromAttributes: { MailFromDomain: mailFromDomain(config), BehaviorOnMxFailure: 'USE_DEFAULT_VALUE' } } : {}),
        }),
      },
      Outputs: dkimOutputs,
    },
  };
  return mergeParts(credentials, identity);
};
