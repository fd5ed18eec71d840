/**
 * CloudFormation's YAML short forms: the tag, and the key of the long form it stands for
 * (AWS CloudFormation User Guide, "Intrinsic function reference" and "Condition functions":
 * docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html).
 * `!GetAtt A.B` is the one short form whose value changes shape: the long form takes
 * `[A, B]`, split at the first dot (an attribute name may hold dots, as `Endpoint.Address`).
 */
export const SHORT_FORMS: Readonly<Record<string, string>> = {
  '!Ref': 'Ref',
  '!Condition': 'Condition',
  '!Base64': 'Fn::Base64',
  '!Cidr': 'Fn::Cidr',
  '!FindInMap': 'Fn::FindInMap',
  '!GetAtt': 'Fn::GetAtt',
  '!GetAZs': 'Fn::GetAZs',
  '!ImportValue': 'Fn::ImportValue',
  '!Join': 'Fn::Join',
  '!Select': 'Fn::Select',
  '!Split': 'Fn::Split',
  '!Sub': 'Fn::Sub',
  '!Transform': 'Fn::Transform',
  '!And': 'Fn::And',
  '!Equals': 'Fn::Equals',
  '!If': 'Fn::If',
  '!Not': 'Fn::Not',
  '!Or': 'Fn::Or',
};

/**
 * What Fn::Sub itself substitutes in a string: `${AWS::Region}` (a pseudo parameter), `${Bucket}`
 * and `${Bucket.Arn}` (a logical id or its attribute), and `${!Literal}`, which writes `${Literal}`
 * (User Guide, "Fn::Sub"). Under `resources:` these are left to CloudFormation.
 */
export const SUB_PLACEHOLDER = /^\$\{(?:!|[A-Za-z0-9]+(?:::[A-Za-z0-9]+|(?:\.[A-Za-z0-9]+)+)?\})/;
